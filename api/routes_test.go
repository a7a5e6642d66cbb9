package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/auth"
)

// Stubs that satisfy the optional route groups' interfaces, so every route
// is registered. Their methods are never reached: these tests stop at the
// guard.
type (
	stubAudience struct{ api.Audience }
	stubPresence struct{ api.Presence }
	stubInbox    struct{ api.Inbox }
	stubStreams  struct{ api.Streams }
	stubTickets  struct{ api.Tickets }
	stubAuditor  struct{ api.Auditor }
	stubDead     struct{ api.DeadLetters }
	stubSeries   struct{ api.SeriesStore }
	stubSchedule struct{ api.Schedules }
)

// publicRoutes need no token: probes, and later metrics and the API
// description.
var publicRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/openapi.yaml": true}

// everyRoute is the API with every optional route group on.
func everyRoute(secret []byte) *echo.Echo {
	return api.New(nil, nil, api.Config{
		Verifier: auth.NewVerifier(secret),
		Audience: stubAudience{}, Presence: stubPresence{}, Audit: stubAuditor{}, DeadLetters: stubDead{},
		Series: &api.SeriesConfig{Store: stubSeries{}, Schedules: stubSchedule{}},
		Users:  api.UserConfig{Inbox: stubInbox{}, Streams: stubStreams{}, Tickets: stubTickets{}},
	})
}

// A route added later cannot forget its guard: every route in Echo's table
// but the public ones refuses a missing, expired or badly signed token with
// 401, and a token without the role it needs with 403.
func TestEveryRouteIsGuarded(t *testing.T) {
	t.Parallel()
	secret := []byte("route-table-test-secret-route-table")
	e := everyRoute(secret)
	now := time.Now()
	issue := func(key []byte, roles []string, ttl time.Duration) string {
		tok, err := auth.Issue(key, "mallory", "", roles, ttl, now)
		require.NoError(t, err)
		return tok
	}
	tokens := map[string]string{
		"no token":           "",
		"expired token":      issue(secret, []string{auth.RoleAdmin}, -time.Hour),
		"badly signed token": issue([]byte("not-the-secret-not-the-secret-123"), []string{auth.RoleAdmin}, time.Hour),
		"not a JWT":          "abc.def.ghi",
	}
	userOnly := issue(secret, nil, time.Hour)

	routes := e.Routes()
	require.Greater(t, len(routes), 10, "the route table looks empty")
	checked := 0
	for _, r := range routes {
		if publicRoutes[r.Path] {
			continue
		}
		path := strings.ReplaceAll(r.Path, ":id", "0195f4a0-0000-7000-8000-000000000001")
		for name, tok := range tokens {
			rec := request(e, r.Method, path, tok)
			require.Equal(t, http.StatusUnauthorized, rec.Code, "%s %s with %s: %s", r.Method, r.Path, name, rec.Body)
			require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
		}
		if needs := api.RequiredRole(r.Method, r.Path); needs != "" {
			rec := request(e, r.Method, path, userOnly)
			require.Equal(t, http.StatusForbidden, rec.Code, "%s %s with a token lacking %q: %s", r.Method, r.Path, needs, rec.Body)
		}
		checked++
	}
	t.Logf("%d guarded routes checked", checked)
}

// Only the routes a user works on their own inbox with need no role; every
// other route needs one.
func TestRequiredRoles(t *testing.T) {
	t.Parallel()
	e := everyRoute([]byte("route-table-test-secret-route-table"))
	for _, r := range e.Routes() {
		if publicRoutes[r.Path] {
			continue
		}
		role := api.RequiredRole(r.Method, r.Path)
		if strings.HasPrefix(r.Path, "/api/v1/me/") || r.Path == "/api/v1/me" {
			require.Empty(t, role, "%s %s is a user's own route", r.Method, r.Path)
		} else {
			require.NotEmpty(t, role, "%s %s must need a role", r.Method, r.Path)
		}
	}
}

func request(e http.Handler, method, path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func recorder(e http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}
