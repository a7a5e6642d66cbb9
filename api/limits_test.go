package api_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/ratelimit"
)

// emptyInbox answers every user with an empty inbox.
type emptyInbox struct{ api.Inbox }

func (emptyInbox) List(context.Context, inbox.User, inbox.ListParams) ([]inbox.Item, string, error) {
	return nil, "", nil
}

// refusingStreams serves nobody, so a stream request ends right after the
// limits were checked.
type refusingStreams struct{}

func (refusingStreams) Serve(context.Context, http.ResponseWriter, inbox.User, string) error {
	return context.Canceled
}

var limitSecret = []byte("limits-test-secret-limits-test-secret")

func limited(sec api.SecurityConfig) *echo.Echo {
	return api.New(nil, nil, api.Config{
		Verifier: auth.NewVerifier(limitSecret), Security: sec,
		Users: api.UserConfig{Inbox: emptyInbox{}, Streams: refusingStreams{}},
	})
}

func userToken(t *testing.T, sub string) string {
	tok, err := auth.Issue(limitSecret, sub, "", nil, time.Hour, time.Now())
	require.NoError(t, err)
	return tok
}

func requireTooMany(t *testing.T, e http.Handler, path, token string) {
	t.Helper()
	rec := request(e, http.MethodGet, path, token)
	require.Equal(t, http.StatusTooManyRequests, rec.Code, rec.Body.String())
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	require.NoError(t, err)
	require.Positive(t, secs)
}

func TestLimitPerClientAddress(t *testing.T) {
	t.Parallel()
	e := limited(api.SecurityConfig{PerAddress: ratelimit.Limit{PerSecond: 0.01, Burst: 2}})
	for range 2 {
		require.Equal(t, http.StatusUnauthorized, request(e, http.MethodGet, "/api/v1/broadcasts", "").Code)
	}
	requireTooMany(t, e, "/api/v1/broadcasts", "")
	require.Equal(t, http.StatusOK, request(e, http.MethodGet, "/healthz", "").Code, "probes are never limited")
}

func TestLimitPerUser(t *testing.T) {
	t.Parallel()
	e := limited(api.SecurityConfig{PerUser: ratelimit.Limit{PerSecond: 0.01, Burst: 3}})
	mallory, alice := userToken(t, "mallory"), userToken(t, "alice")
	for range 3 {
		require.Equal(t, http.StatusOK, request(e, http.MethodGet, "/api/v1/me/broadcasts", mallory).Code)
	}
	requireTooMany(t, e, "/api/v1/me/broadcasts", mallory)
	require.Equal(t, http.StatusOK, request(e, http.MethodGet, "/api/v1/me/broadcasts", alice).Code, "other users are not affected")
}

func TestLimitStreamConnects(t *testing.T) {
	t.Parallel()
	e := limited(api.SecurityConfig{StreamConnects: ratelimit.Limit{PerSecond: 0.01, Burst: 2}})
	mallory := userToken(t, "mallory-"+uuid.NewString())
	for range 2 {
		require.NotEqual(t, http.StatusTooManyRequests, request(e, http.MethodGet, "/api/v1/me/stream", mallory).Code)
	}
	requireTooMany(t, e, "/api/v1/me/stream", mallory)
}

// Every answer carries headers that keep browsers from framing, sniffing or
// embedding it; CORS answers only the configured origins.
func TestSecurityHeadersAndCORS(t *testing.T) {
	t.Parallel()
	e := limited(api.SecurityConfig{CORSOrigins: []string{"https://app.example.com"}, HSTS: true})
	rec := request(e, http.MethodGet, "/healthz", "")
	h := rec.Header()
	require.Equal(t, "default-src 'none'; frame-ancestors 'none'", h.Get("Content-Security-Policy"))
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	require.Equal(t, "DENY", h.Get("X-Frame-Options"))
	require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))

	preflight := func(origin string) http.Header {
		req, _ := http.NewRequest(http.MethodOptions, "/api/v1/me/broadcasts", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodGet)
		rec := recorder(e, req)
		return rec.Header()
	}
	require.Equal(t, "https://app.example.com", preflight("https://app.example.com").Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", preflight("https://app.example.com").Get("Access-Control-Allow-Credentials"))
	require.Empty(t, preflight("https://evil.example.com").Get("Access-Control-Allow-Origin"))
}

// Without configured origins no answer carries a CORS header (Echo's CORS
// middleware answered "*" with credentials to an empty list); with them, only
// an exact origin is reflected, never a pattern's or a subdomain's match.
func TestCORSOnlyForExactOrigins(t *testing.T) {
	t.Parallel()
	ask := func(e http.Handler, method, origin string) http.Header {
		req, _ := http.NewRequest(method, "/api/v1/me/broadcasts", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodGet)
		return recorder(e, req).Header()
	}
	none := limited(api.SecurityConfig{})
	for _, method := range []string{http.MethodGet, http.MethodOptions} {
		h := ask(none, method, "https://evil.example")
		for name := range h {
			require.NotContains(t, name, "Access-Control-", "%s: no CORS header without configured origins", method)
		}
	}

	some := limited(api.SecurityConfig{CORSOrigins: []string{"https://console.example.com", "https://*.example.com"}})
	for _, method := range []string{http.MethodGet, http.MethodOptions} {
		require.Equal(t, "https://console.example.com", ask(some, method, "https://console.example.com").Get("Access-Control-Allow-Origin"))
		for _, origin := range []string{"https://evil.example.com", "https://a.console.example.com", "https://console.example.com.evil.example",
			"http://console.example.com", "null"} {
			require.Empty(t, ask(some, method, origin).Get("Access-Control-Allow-Origin"), "%s %s", method, origin)
		}
	}
}
