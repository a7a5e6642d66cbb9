package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
)

// consoleOrigin is the one browser origin the cross-site tests allow.
const consoleOrigin = "https://console.example.com"

// evilForm is what <form enctype="text/plain"> on another site posts: the
// name {"title":"Pwned","content":"x and the value ","target":{"type":"ALL"}}
// join with "=" into valid JSON.
const evilForm = `{"title":"Pwned","content":"x=","target":{"type":"ALL"}}`

// markingInbox counts the marks it was asked for.
type markingInbox struct {
	emptyInbox
	marks atomic.Int32
}

func (m *markingInbox) MarkAllRead(context.Context, inbox.User) (int, error) {
	m.marks.Add(1)
	return 0, nil
}

func (m *markingInbox) MarkRead(context.Context, inbox.User, uuid.UUID) (inbox.Item, error) {
	m.marks.Add(1)
	return inbox.Item{}, nil
}

// crossSiteBundle is an API with broadcasts, users and inboxes on a fresh
// database that allows consoleOrigin.
type crossSiteBundle struct {
	*testBundle
	audience *audience.Audience
	inbox    *markingInbox
}

func setupCrossSite(t *testing.T, sec api.SecurityConfig) *crossSiteBundle {
	t.Helper()
	pool := testenv.Pool(t)
	st := store.New(pool)
	aud, err := audience.New(pool, audience.Config{})
	require.NoError(t, err)
	secret := []byte("crier-api-test-secret-0123456789")
	now := time.Now().UTC().Truncate(time.Second)
	wf := &fakeWorkflows{store: st}
	in := &markingInbox{}
	sec.CORSOrigins = []string{consoleOrigin}
	e := api.New(st, wf, api.Config{
		Verifier: auth.NewVerifier(secret), Clock: func() time.Time { return now }, Logger: testenv.Logger(t),
		Audience: aud, Users: api.UserConfig{Inbox: in}, Security: sec,
	})
	tb := &testBundle{e: e, pool: pool, store: st, wf: wf, secret: secret, now: now,
		token: issue(t, secret, "admin-1", "Ada Admin", []string{auth.RoleAdmin}, time.Hour, time.Now())}
	return &crossSiteBundle{testBundle: tb, audience: aud, inbox: in}
}

// fromBrowser sends what a browser sends on the admin's behalf: the
// crier_token cookie and no Authorization header, with the content type and
// header pairs given.
func (cb *crossSiteBundle) fromBrowser(t *testing.T, method, target, contentType, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set(echo.HeaderContentType, contentType)
	}
	req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: cb.token})
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return recorder(cb.e, req)
}

func (cb *crossSiteBundle) broadcasts(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, cb.pool.QueryRow(context.Background(), `SELECT count(*) FROM broadcasts`).Scan(&n))
	return n
}

// A page on another site cannot make an admin's browser change anything:
// the form POST of the review (201 and an ALL broadcast before), read-all,
// cancel and a users import all answer 403 and change nothing.
func TestCrossSiteRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	cb := setupCrossSite(t, api.SecurityConfig{})
	evil := []string{echo.HeaderOrigin, "https://evil.example"}

	rec := cb.fromBrowser(t, http.MethodPost, "/api/v1/broadcasts", "text/plain", evilForm, evil...)
	p := requireProblem(t, rec, http.StatusForbidden, `origin "https://evil.example"`)
	require.Contains(t, p.Detail, "CRIER_CORS_ORIGINS")
	rec = cb.fromBrowser(t, http.MethodPost, "/api/v1/broadcasts", echo.MIMEApplicationJSON, evilForm, evil...)
	requireProblem(t, rec, http.StatusForbidden, "Authorization header")
	require.Zero(t, cb.broadcasts(t), "nothing stored")

	scheduled := cb.insert(t, broadcast.StatusScheduled)
	rec = cb.fromBrowser(t, http.MethodPost, path(scheduled.ID, "cancel"), "text/plain", "", evil...)
	requireProblem(t, rec, http.StatusForbidden, "evil.example")
	require.Equal(t, broadcast.StatusScheduled, cb.get(t, scheduled.ID).Status)
	require.NotContains(t, cb.wf.ops(), "cancel")

	rec = cb.fromBrowser(t, http.MethodPost, "/api/v1/me/broadcasts/read-all", "text/plain", "", evil...)
	requireProblem(t, rec, http.StatusForbidden, "evil.example")
	rec = cb.fromBrowser(t, http.MethodPost, "/api/v1/me/broadcasts/"+scheduled.ID.String()+"/read", "", "", evil...)
	requireProblem(t, rec, http.StatusForbidden, "evil.example")
	require.Zero(t, cb.inbox.marks.Load(), "nothing marked read")

	// fetch(url, {mode: "no-cors", credentials: "include", body: new Blob([...])})
	// sends no Content-Type at all.
	rec = cb.fromBrowser(t, http.MethodPost, "/api/v1/users/import", "", `[{"id":"mallory","name":"M","roles":["admin"]}]`, evil...)
	requireProblem(t, rec, http.StatusForbidden, "evil.example")
	_, err := cb.audience.Get(context.Background(), "mallory")
	require.ErrorIs(t, err, audience.ErrNotFound, "nobody imported")

	// Without Origin, Sec-Fetch-Site tells a cross-site request.
	for _, site := range []string{"cross-site", "same-site"} {
		rec = cb.fromBrowser(t, http.MethodPost, "/api/v1/broadcasts", "text/plain", evilForm, "Sec-Fetch-Site", site)
		requireProblem(t, rec, http.StatusForbidden, site)
	}
	// X-Forwarded-Proto from a client that is not a trusted proxy does not
	// make an https page the API's own origin.
	rec = cb.fromBrowser(t, http.MethodPost, "/api/v1/broadcasts", echo.MIMEApplicationJSON, evilForm,
		echo.HeaderOrigin, "https://example.com", echo.HeaderXForwardedProto, "https")
	requireProblem(t, rec, http.StatusForbidden, "https://example.com")
	require.Equal(t, 1, cb.broadcasts(t), "only the one the test inserted")
}

// The API's own origin, an allowed origin and non-browser clients may use
// the cookie; a bearer token is never subject to the origin check.
func TestAllowedOriginsMayUseTheCookie(t *testing.T) {
	t.Parallel()
	cb := setupCrossSite(t, api.SecurityConfig{TrustedProxies: []string{"192.0.2.0/24"}})
	body := createBody(t, nil)
	for name, header := range map[string][]string{
		"allowed origin":          {echo.HeaderOrigin, consoleOrigin},
		"own origin":              {echo.HeaderOrigin, "http://example.com"}, // httptest's Host
		"own origin, via proxy":   {echo.HeaderOrigin, "https://example.com", echo.HeaderXForwardedProto, "https"},
		"own origin, port":        {echo.HeaderOrigin, "http://example.com:80"},
		"same-origin fetch":       {"Sec-Fetch-Site", "same-origin"},
		"typed address":           {"Sec-Fetch-Site", "none"},
		"not a browser":           nil,
		"bearer from another one": {echo.HeaderOrigin, "https://evil.example", echo.HeaderAuthorization, "Bearer " + cb.token},
	} {
		rec := cb.fromBrowser(t, http.MethodPost, "/api/v1/broadcasts", "application/json; charset=utf-8", body, header...)
		require.Equal(t, http.StatusCreated, rec.Code, "%s: %s", name, rec.Body)
	}
	rec := cb.fromBrowser(t, http.MethodPost, "/api/v1/me/broadcasts/read-all", "", "", echo.HeaderOrigin, consoleOrigin)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = cb.fromBrowser(t, http.MethodPost, "/api/v1/users/import", "application/x-ndjson", `{"id":"dave","name":"Dave","roles":["ops"]}`,
		echo.HeaderOrigin, consoleOrigin)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

// A body must say it is JSON, whoever sends it: the form's text/plain with
// a bearer token answered 201 before.
func TestBodiesMustBeJSON(t *testing.T) {
	t.Parallel()
	cb := setupCrossSite(t, api.SecurityConfig{})
	for _, contentType := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		rec := cb.do(t, http.MethodPost, "/api/v1/broadcasts", evilForm, withHeader(echo.HeaderContentType, contentType))
		requireProblem(t, rec, http.StatusUnsupportedMediaType, "application/json")
	}
	draft := cb.insert(t, broadcast.StatusDraft)
	rec := cb.do(t, http.MethodPost, path(draft.ID, "schedule"), `{}`, withHeader(echo.HeaderContentType, "text/plain"))
	requireProblem(t, rec, http.StatusUnsupportedMediaType, "application/json")
	rec = cb.do(t, http.MethodPut, "/api/v1/users/dave", `{"name":"Dave","roles":["admin"]}`, withHeader(echo.HeaderContentType, "text/plain"))
	requireProblem(t, rec, http.StatusUnsupportedMediaType, "application/json")
	rec = cb.do(t, http.MethodPost, "/api/v1/users/import", `[{"id":"dave","name":"Dave","roles":["admin"]}]`, withHeader(echo.HeaderContentType, ""))
	requireProblem(t, rec, http.StatusUnsupportedMediaType, "Content-Type")
	require.Equal(t, 1, cb.broadcasts(t), "only the draft the test inserted")
	require.Equal(t, broadcast.StatusDraft, cb.get(t, draft.ID).Status)
	_, err := cb.audience.Get(context.Background(), "dave")
	require.ErrorIs(t, err, audience.ErrNotFound)

	// Empty bodies need no Content-Type; JSON with parameters or a +json
	// type is JSON.
	rec = cb.do(t, http.MethodPost, path(draft.ID, "schedule"), "", withHeader(echo.HeaderContentType, ""))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, http.StatusOK, cb.do(t, http.MethodPost, path(draft.ID, "cancel"), "").Code)
	rec = cb.do(t, http.MethodPost, "/api/v1/broadcasts", createBody(t, nil), withHeader(echo.HeaderContentType, "application/vnd.crier+json; charset=UTF-8"))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
}
