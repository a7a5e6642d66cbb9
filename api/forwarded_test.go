package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/ratelimit"
)

// TestForwardedForIsBelievedOnlyFromTrustedProxies holds the acceptance of
// Echo's GO-2026-6872 (default RealIP trusts X-Forwarded-For) in
// tools/vulncheck/accepted.txt: a client that sends a new X-Forwarded-For on
// every request still spends one rate-limit bucket, its connection's, unless
// the connection comes from a proxy named in CRIER_TRUSTED_PROXIES.
func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	limit := ratelimit.Limit{PerSecond: 0.01, Burst: 2}
	spoofed := func(e http.Handler, forwardedFor string) int {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/broadcasts", nil) // from 192.0.2.1
		req.Header.Set("X-Forwarded-For", forwardedFor)
		return recorder(e, req).Code
	}

	direct := limited(api.SecurityConfig{PerAddress: limit})
	for _, ip := range []string{"198.51.100.1", "198.51.100.2"} {
		require.Equal(t, http.StatusUnauthorized, spoofed(direct, ip))
	}
	require.Equal(t, http.StatusTooManyRequests, spoofed(direct, "198.51.100.3"),
		"an untrusted client's X-Forwarded-For must not give it a fresh bucket")

	behindProxy := limited(api.SecurityConfig{PerAddress: limit, TrustedProxies: []string{"192.0.2.0/24"}})
	for _, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		require.Equal(t, http.StatusUnauthorized, spoofed(behindProxy, ip), "each client behind a trusted proxy has its own bucket")
	}
}
