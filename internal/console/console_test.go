package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/testenv"
)

var secret = []byte("console-test-secret-of-at-least-32-bytes")

func token(t *testing.T, roles ...string) string {
	t.Helper()
	tok, err := auth.Issue(secret, "ada", "Ada Admin", roles, time.Hour, time.Now())
	require.NoError(t, err)
	return tok
}

func newServer(t *testing.T, cfg Config) *echo.Echo {
	t.Helper()
	cfg.Verifier = auth.NewVerifier(secret)
	c, err := New(cfg)
	require.NoError(t, err)
	e := echo.New()
	c.Routes(e)
	return e
}

type request struct {
	method, path, host, body, contentType string
	cookie                                string
	header                                map[string]string
}

func serveOne(e *echo.Echo, r request) *httptest.ResponseRecorder {
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.host != "" {
		req.Host = r.host
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.cookie != "" {
		req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: r.cookie})
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// Signing in with a token puts it in a cookie no script can read, that no
// other site's page sends, that lasts as long as the token, and that is
// Secure everywhere but on loopback.
func TestSignInSetsTheSessionCookie(t *testing.T) {
	e := newServer(t, Config{})
	for host, secure := range map[string]bool{"127.0.0.1:8080": false, "localhost:8080": false, "[::1]:8080": false, "crier.example.com": true} {
		rec := serveOne(e, request{method: http.MethodPost, path: "/admin/session", host: host, body: `{"token":"` + token(t, auth.RoleAdmin) + `"}`})
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		cookies := rec.Result().Cookies()
		require.Len(t, cookies, 1)
		c := cookies[0]
		require.Equal(t, auth.CookieName, c.Name)
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite)
		require.Equal(t, "/", c.Path)
		require.Equal(t, secure, c.Secure, host)
		require.InDelta(t, time.Hour.Seconds(), c.MaxAge, 5, "bounded by the token's expiry")
		require.Contains(t, rec.Body.String(), `"signed_in":true`)
		require.Contains(t, rec.Body.String(), `"admin":true`)
	}
}

func TestSignInRefuses(t *testing.T) {
	e := newServer(t, Config{})
	for name, tc := range map[string]struct {
		body, contentType string
		status            int
	}{
		"a bad token":                {body: `{"token":"not-a-jwt"}`, status: http.StatusUnauthorized},
		"a token of neither role":    {body: `{"token":"` + token(t, "ops") + `"}`, status: http.StatusForbidden},
		"nothing":                    {body: `{}`, status: http.StatusUnprocessableEntity},
		"a token and a code":         {body: `{"token":"x","code":"y"}`, status: http.StatusUnprocessableEntity},
		"an unknown field":           {body: `{"token":"x","admin":true}`, status: http.StatusBadRequest},
		"a form (text/plain)":        {body: `{"token":"x"}`, contentType: "text/plain", status: http.StatusUnsupportedMediaType},
		"two values":                 {body: `{"token":"x"} {}`, status: http.StatusBadRequest},
		"a code where links are off": {body: `{"code":"abc"}`, status: http.StatusNotFound},
		"a body too large":           {body: `{"token":"` + strings.Repeat("x", maxSignInBytes) + `"}`, status: http.StatusRequestEntityTooLarge},
	} {
		rec := serveOne(e, request{method: http.MethodPost, path: "/admin/session", body: tc.body, contentType: tc.contentType})
		require.Equal(t, tc.status, rec.Code, "%s: %s", name, rec.Body.String())
		require.Empty(t, rec.Result().Cookies(), "%s sets no cookie", name)
	}
}

// The session endpoint says who is signed in, and the lifecycle's rules the
// console offers actions by.
func TestSessionAndSignOut(t *testing.T) {
	e := newServer(t, Config{TemporalUI: "http://127.0.0.1:8233/", TemporalNamespace: "default"})
	rec := serveOne(e, request{method: http.MethodGet, path: "/admin/session"})
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"signed_in":false`)
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))

	rec = serveOne(e, request{method: http.MethodGet, path: "/admin/session", cookie: token(t, auth.RoleBroadcaster)})
	body := rec.Body.String()
	require.Contains(t, body, `"signed_in":true`)
	require.Contains(t, body, `"admin":false`)
	require.Contains(t, body, `"temporal_ui":"http://127.0.0.1:8233"`)
	require.Contains(t, body, `"cancel":["DRAFT","SCHEDULED","IN_PROGRESS","SENT"]`)
	require.Contains(t, body, `"retry":["FAILED"]`)

	rec = serveOne(e, request{method: http.MethodGet, path: "/admin/session", cookie: token(t, "ops")})
	require.Contains(t, rec.Body.String(), `"signed_in":false`, "a token of neither role is no session")

	rec = serveOne(e, request{method: http.MethodPost, path: "/admin/session/end"})
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Len(t, rec.Result().Cookies(), 1)
	require.Negative(t, rec.Result().Cookies()[0].MaxAge, "the cookie is deleted")
}

// Every console address serves the page; files are served with their type,
// revalidated by ETag, and every answer carries the console's CSP.
func TestPagesAndAssets(t *testing.T) {
	e := newServer(t, Config{})
	rec := serveOne(e, request{method: http.MethodGet, path: "/admin"})
	require.Equal(t, http.StatusMovedPermanently, rec.Code)
	require.Equal(t, "/admin/", rec.Header().Get("Location"))
	for _, path := range []string{"/admin/", "/admin/broadcasts/new", "/admin/broadcasts/0199"} {
		rec := serveOne(e, request{method: http.MethodGet, path: path})
		require.Equal(t, http.StatusOK, rec.Code, path)
		require.Contains(t, rec.Header().Get("Content-Type"), "text/html")
		require.Equal(t, contentSecurityPolicy, rec.Header().Get("Content-Security-Policy"))
	}
	rec = serveOne(e, request{method: http.MethodGet, path: "/admin/assets/console.css"})
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Header().Get("Content-Type"), "text/css")
	etag := rec.Header().Get("ETag")
	require.NotEmpty(t, etag)
	rec = serveOne(e, request{method: http.MethodGet, path: "/admin/assets/console.css", header: map[string]string{"If-None-Match": etag}})
	require.Equal(t, http.StatusNotModified, rec.Code)
	for _, path := range []string{"/admin/assets/nothing.js", "/admin/assets/index.html", "/admin/api/v1/broadcasts"} {
		require.Equal(t, http.StatusNotFound, serveOne(e, request{method: http.MethodGet, path: path}).Code, path)
	}
}

// A link's code signs in once, within LinkTTL; only its hash is stored.
func TestLinksSignInOnce(t *testing.T) {
	pool := testenv.Pool(t)
	links := NewLinks(pool)
	issue := func(sub, name string, roles []string, ttl time.Duration) (string, error) {
		return auth.IssueWith(secret, auth.IssueOptions{Subject: sub, Name: name, Roles: roles, TTL: ttl})
	}
	e := newServer(t, Config{Links: links, Issue: issue})
	ctx := t.Context()
	code, err := links.Create(ctx, Link{Subject: "lee", Name: "Lee Lead", Roles: []string{auth.RoleBroadcaster}, SessionTTL: 2 * time.Hour})
	require.NoError(t, err)
	var stored int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM console_signin_codes WHERE code_hash = sha256(convert_to($1, 'UTF8'))`, code).Scan(&stored))
	require.Equal(t, 1, stored)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM console_signin_codes WHERE position(convert_to($1, 'UTF8') in code_hash) > 0`, code).Scan(&stored))
	require.Zero(t, stored, "the code itself is not stored")

	rec := serveOne(e, request{method: http.MethodPost, path: "/admin/session", body: `{"code":"` + code + `"}`})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"name":"Lee Lead"`)
	require.InDelta(t, (2 * time.Hour).Seconds(), rec.Result().Cookies()[0].MaxAge, 5)
	rec = serveOne(e, request{method: http.MethodPost, path: "/admin/session", body: `{"code":"` + code + `"}`})
	require.Equal(t, http.StatusUnauthorized, rec.Code, "a second use")

	expired, err := links.Create(ctx, Link{Subject: "lee", Roles: []string{auth.RoleAdmin}, SessionTTL: time.Hour})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE console_signin_codes SET expires_at = now() - interval '1 second'`)
	require.NoError(t, err)
	_, err = links.Redeem(ctx, expired)
	require.ErrorIs(t, err, ErrLinkUsed)

	_, err = links.Create(ctx, Link{Subject: "lee", SessionTTL: MaxSessionTTL + time.Second})
	require.Error(t, err, "a session longer than the bound")
}
