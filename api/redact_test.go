package api

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLogsNeverHoldTickets(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"/api/v1/me/stream?ticket=s3cr3t&last_event_id=v1:1.2": "/api/v1/me/stream?last_event_id=v1%3A1.2&ticket=REDACTED",
		"/api/v1/broadcasts?status=SENT&limit=2":               "/api/v1/broadcasts?status=SENT&limit=2",
		"/api/v1/me/stream?access_token=abc":                   "/api/v1/me/stream?access_token=REDACTED",
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		require.Equal(t, want, redactURI(u))
		require.NotContains(t, redactURI(u), "s3cr3t")
	}
}
