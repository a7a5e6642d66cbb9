package api_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
)

// TestRequestIDsAreCriers: whatever X-Request-Id a client sends, the request
// is known by an id Crier made, in the answer, the request log, problem
// answers and the audit log; the client's own id is kept apart, cut short
// and cleaned, as client_request_id.
func TestRequestIDsAreCriers(t *testing.T) {
	t.Parallel()
	ab := setupAudit(t)
	var logs bytes.Buffer
	log, err := audit.New(ab.pool)
	require.NoError(t, err)
	ab.e = api.New(ab.store, ab.wf, api.Config{
		Verifier: auth.NewVerifier(ab.secret),
		Clock:    func() time.Time { return ab.now },
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		Audit:    log,
	})
	// Another request's id, as a client could send to mix its change up with
	// that request's.
	theirs := ab.do(t, http.MethodGet, "/api/v1/broadcasts", "").Header().Get(echo.HeaderXRequestID)

	tests := []struct{ name, sent, kept string }{
		{"another request's id", theirs, theirs},
		{"none", "", ""},
		{"too long, with control characters", "a\x1b[31m\nb" + strings.Repeat("c", 200), "a[31mb" + strings.Repeat("c", 122)},
	}
	for _, tt := range tests {
		logs.Reset()
		b := ab.insert(t, "SCHEDULED")
		rec := ab.do(t, http.MethodPost, path(b.ID, "cancel"), "", withHeader(echo.HeaderXRequestID, tt.sent))
		requireBroadcast(t, rec, http.StatusOK)
		id := rec.Header().Get(echo.HeaderXRequestID)
		require.NotEqual(t, tt.sent, id, tt.name)
		_, err := uuid.Parse(id)
		require.NoError(t, err, "%s: Crier's ids are UUIDs", tt.name)

		e := ab.entries(t)[0]
		require.Equal(t, b.ID.String(), e.TargetID)
		require.Equal(t, id, e.RequestID, tt.name)
		require.Equal(t, tt.kept, e.ClientRequestID, tt.name)
		require.LessOrEqual(t, len(e.ClientRequestID), 128)
		line := logs.String()
		require.Contains(t, line, "request_id="+id, tt.name)
		require.Contains(t, line, "client_request_id="+quoteIfNeeded(tt.kept), tt.name)
		require.NotContains(t, line, "\x1b", "%s: no control character reaches the log", tt.name)
	}

	rec := ab.do(t, http.MethodGet, "/api/v1/broadcasts/nope", "", withHeader(echo.HeaderXRequestID, "client-id"))
	p := requireProblem(t, rec, http.StatusNotFound, "no broadcast")
	require.Equal(t, rec.Header().Get(echo.HeaderXRequestID), p.RequestID)
	require.NotEqual(t, "client-id", p.RequestID)
}

// quoteIfNeeded is v as slog's text handler writes a string value.
func quoteIfNeeded(v string) string {
	if v == "" || strings.ContainsAny(v, " =\"") {
		return `"` + v + `"`
	}
	return v
}
