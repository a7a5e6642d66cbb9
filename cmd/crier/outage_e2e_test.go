package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/series"
	"github.com/crier/crier/internal/testenv"
)

// outageCall is one request of TestEveryRouteAnswers503WhilePostgreSQLIsDown:
// route names it as the API description does; ok is its answer once
// PostgreSQL is back.
type outageCall struct {
	route  string
	path   string
	token  string
	body   any
	header map[string]string
	// ticket: the path takes ?ticket=, one issued while PostgreSQL was up.
	ticket bool
	ok     int
}

// outageRig is a `crier all` whose only way to PostgreSQL is a proxy the
// test cuts, and what it made before the cut.
type outageRig struct {
	node  *node
	proxy *testenv.Proxy
	p     people
	// live is a broadcast in alice's inbox; scheduled one due in an hour;
	// draft a draft.
	live, scheduled, draft broadcast.Broadcast
	// series is a yearly series, so none of its occurrences falls in the test.
	series series.Series
}

// TestEveryRouteAnswers503WhilePostgreSQLIsDown puts a TCP proxy between
// Crier and PostgreSQL, cuts it, and calls every guarded route in the API
// description: each answers 503 with Retry-After and a problem naming
// PostgreSQL, logged once with its cause (never a bare 500), and the event
// stream answers so before it starts. Restored, every route works again.
func TestEveryRouteAnswers503WhilePostgreSQLIsDown(t *testing.T) {
	r := startOutageRig(t)
	calls := r.calls()
	r.requireEveryGuardedRoute(t, calls)
	ticket := r.ticket(t)

	r.proxy.Cut()
	for _, c := range calls {
		r.requireUnavailable(t, c, ticket)
	}
	// Readiness says so too, once its cached round (a second) is over.
	testenv.Eventually(t, 10*time.Second, func() error {
		var ready map[string]any
		status := call(t, r.node, r.p.admin, http.MethodGet, "/readyz", nil, &ready)
		want := map[string]any{"status": "not ready", "checks": map[string]any{"postgres": "unavailable", "migrations": "unavailable", "kafka": "ok", "temporal": "ok"}}
		if status != http.StatusServiceUnavailable || fmt.Sprint(ready) != fmt.Sprint(want) {
			return fmt.Errorf("readyz: %d %v", status, ready)
		}
		return nil
	})

	r.proxy.Restore()
	for _, c := range calls {
		r.requireWorks(t, c)
	}
}

func startOutageRig(t *testing.T) *outageRig {
	s := newStack(t)
	url, proxy := testenv.ProxyDatabaseURL(t, s.env["DATABASE_URL"])
	s.env["DATABASE_URL"] = url
	// One admin calls every route twice and more: the per-user limit (20 a
	// second, 40 at once) would answer 429 before PostgreSQL is asked.
	s.env["CRIER_RATE_PER_USER"] = "0"
	r := &outageRig{node: s.start(t, "all", "outage-node"), proxy: proxy, p: tokens(t)}
	r.live = createOn(t, r.node, r.p.admin, allBroadcast("in alice's inbox"))
	r.scheduled = createOn(t, r.node, r.p.admin, roleBroadcast("an hour ahead", "ops", time.Hour, 2*time.Hour))
	draft := allBroadcast("a draft")
	draft["draft"] = true
	r.draft = createOn(t, r.node, r.p.admin, draft)
	require.Equal(t, http.StatusCreated, call(t, r.node, r.p.admin, http.MethodPost, "/api/v1/series", yearlySeries("before the outage"), &r.series))
	testenv.Eventually(t, 30*time.Second, func() error {
		var page inboxPage
		if status := call(t, r.node, r.p.alice, http.MethodGet, "/api/v1/me/broadcasts", nil, &page); status != http.StatusOK {
			return fmt.Errorf("inbox: %d", status)
		}
		for _, it := range page.Items {
			if it.ID == r.live.ID {
				return nil
			}
		}
		return fmt.Errorf("broadcast %s not in alice's inbox yet", r.live.ID)
	})
	require.Equal(t, http.StatusOK, call(t, r.node, r.p.admin, http.MethodPut, "/api/v1/users/dave",
		map[string]any{"name": "Dave", "roles": []string{"ops"}}, nil))
	// The node's tail has started: a stream opens (so a refusal below is
	// PostgreSQL's, not a node still starting).
	stream := openStream(t, t, "alice before the outage", r.node.baseURL, r.p.alice, "")
	require.Equal(t, http.StatusOK, stream.status)
	stream.expect(t, "broadcast", r.live.ID)
	stream.close()
	return r
}

// calls are the requests, one or more per guarded route, in an order whose
// answers after the outage hold (reschedule before cancel).
func (r *outageRig) calls() []outageCall {
	b := func(x broadcast.Broadcast, rest string) string { return "/api/v1/broadcasts/" + x.ID.String() + rest }
	admin, alice := r.p.admin, r.p.alice
	noLetter := "/api/v1/dead-letters/" + uuid.NewString()
	sr := func(rest string) string { return "/api/v1/series/" + r.series.ID.String() + rest }
	return []outageCall{
		{route: "POST /api/v1/broadcasts", path: "/api/v1/broadcasts", token: admin, body: allBroadcast("during the outage"),
			header: map[string]string{"Idempotency-Key": "outage-create"}, ok: http.StatusCreated},
		{route: "GET /api/v1/broadcasts", path: "/api/v1/broadcasts?limit=5", token: admin, ok: http.StatusOK},
		{route: "GET /api/v1/broadcasts/{id}", path: b(r.live, ""), token: admin, ok: http.StatusOK},
		{route: "POST /api/v1/broadcasts/{id}/reschedule", path: b(r.scheduled, "/reschedule"), token: admin,
			body: map[string]any{"expires_at": time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)}, ok: http.StatusOK},
		{route: "POST /api/v1/broadcasts/{id}/cancel", path: b(r.scheduled, "/cancel"), token: admin, ok: http.StatusOK},
		{route: "POST /api/v1/broadcasts/{id}/schedule", path: b(r.draft, "/schedule"), token: admin, ok: http.StatusOK},
		// Sent, so not FAILED: a conflict once PostgreSQL is back.
		{route: "POST /api/v1/broadcasts/{id}/retry", path: b(r.live, "/retry"), token: admin, ok: http.StatusConflict},
		{route: "GET /api/v1/broadcasts/{id}/stats", path: b(r.live, "/stats"), token: admin, ok: http.StatusOK},
		{route: "GET /api/v1/broadcasts/{id}/deliveries", path: b(r.live, "/deliveries"), token: admin, ok: http.StatusOK},
		{route: "POST /api/v1/series", path: "/api/v1/series", token: admin, body: yearlySeries("during the outage"),
			header: map[string]string{"Idempotency-Key": "outage-series"}, ok: http.StatusCreated},
		{route: "GET /api/v1/series", path: "/api/v1/series?limit=5", token: admin, ok: http.StatusOK},
		{route: "GET /api/v1/series/{id}", path: sr(""), token: admin, ok: http.StatusOK},
		{route: "PATCH /api/v1/series/{id}", path: sr(""), token: admin,
			body: map[string]any{"content": "changed during the outage"}, ok: http.StatusOK},
		{route: "POST /api/v1/series/{id}/pause", path: sr("/pause"), token: admin, ok: http.StatusOK},
		{route: "POST /api/v1/series/{id}/trigger", path: sr("/trigger"), token: admin, ok: http.StatusAccepted},
		{route: "POST /api/v1/series/{id}/resume", path: sr("/resume"), token: admin, ok: http.StatusOK},
		{route: "GET /api/v1/series/{id}/occurrences", path: sr("/occurrences"), token: admin, ok: http.StatusOK},
		{route: "POST /api/v1/series/{id}/cancel", path: sr("/cancel"), token: admin, body: map[string]any{"cancel_active": true}, ok: http.StatusOK},
		{route: "PUT /api/v1/users/{id}", path: "/api/v1/users/dave", token: admin,
			body: map[string]any{"name": "Dave", "roles": []string{"ops", "oncall"}}, ok: http.StatusOK},
		{route: "GET /api/v1/users/{id}", path: "/api/v1/users/dave", token: admin, ok: http.StatusOK},
		{route: "POST /api/v1/users/import", path: "/api/v1/users/import", token: admin,
			body: []map[string]any{{"id": "erin", "roles": []string{"sales"}}}, ok: http.StatusOK},
		{route: "GET /api/v1/users", path: "/api/v1/users?q=dav", token: admin, ok: http.StatusOK},
		{route: "GET /api/v1/roles", path: "/api/v1/roles", token: admin, ok: http.StatusOK},
		{route: "POST /api/v1/audience/count", path: "/api/v1/audience/count", token: admin,
			body: map[string]any{"target": map[string]any{"type": "ROLE", "ids": []string{"ops"}}}, ok: http.StatusOK},
		{route: "GET /api/v1/admin/presence", path: "/api/v1/admin/presence", token: admin, ok: http.StatusOK},
		{route: "GET /api/v1/audit", path: "/api/v1/audit?limit=5", token: admin, ok: http.StatusOK},
		{route: "GET /api/v1/dead-letters", path: "/api/v1/dead-letters?limit=5", token: admin, ok: http.StatusOK},
		// No dead letter has this id: not found once PostgreSQL is back.
		{route: "GET /api/v1/dead-letters/{id}", path: noLetter, token: admin, ok: http.StatusNotFound},
		{route: "POST /api/v1/dead-letters/{id}/redrive", path: noLetter + "/redrive", token: admin, ok: http.StatusNotFound},
		{route: "DELETE /api/v1/dead-letters/{id}", path: noLetter, token: admin, ok: http.StatusNotFound},
		{route: "GET /api/v1/me/broadcasts", path: "/api/v1/me/broadcasts", token: alice, ok: http.StatusOK},
		{route: "POST /api/v1/me/broadcasts/{id}/read", path: "/api/v1/me/broadcasts/" + r.live.ID.String() + "/read", token: alice, ok: http.StatusOK},
		{route: "POST /api/v1/me/broadcasts/read-all", path: "/api/v1/me/broadcasts/read-all", token: alice, ok: http.StatusOK},
		{route: "POST /api/v1/me/stream-ticket", path: "/api/v1/me/stream-ticket", token: alice, ok: http.StatusCreated},
		{route: "GET /api/v1/me/stream", path: "/api/v1/me/stream", token: alice, ok: http.StatusOK},
		{route: "GET /api/v1/me/stream", path: "/api/v1/me/stream", ticket: true, ok: http.StatusOK},
	}
}

// requireEveryGuardedRoute checks that calls cover every operation the
// served API description lists with a security requirement (the
// description lists exactly Echo's routes: api's TestOpenAPIMatchesRouteTable).
func (r *outageRig) requireEveryGuardedRoute(t *testing.T, calls []outageCall) {
	t.Helper()
	resp, err := http.Get(r.node.baseURL + "/openapi.yaml")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	require.NoError(t, err)
	var guarded, called []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security == nil || len(*op.Security) > 0 {
				guarded = append(guarded, method+" "+path)
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range calls {
		if !seen[c.route] {
			seen[c.route] = true
			called = append(called, c.route)
		}
	}
	require.ElementsMatch(t, guarded, called, "every guarded route is called while PostgreSQL is down")
}

// ticket issues a stream ticket for alice while PostgreSQL is up.
func (r *outageRig) ticket(t *testing.T) string {
	t.Helper()
	var tk struct{ Ticket string }
	require.Equal(t, http.StatusCreated, call(t, r.node, r.p.alice, http.MethodPost, "/api/v1/me/stream-ticket", nil, &tk))
	return tk.Ticket
}

// answer is what a call got: its status, headers and body (for a stream,
// only its first bytes).
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (r *outageRig) do(t *testing.T, c outageCall, ticket string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var body io.Reader
	if c.body != nil {
		raw, err := json.Marshal(c.body)
		require.NoError(t, err)
		body = bytes.NewReader(raw)
	}
	method, _, _ := strings.Cut(c.route, " ")
	path := c.path
	if c.ticket {
		path += "?ticket=" + ticket
	}
	req, err := http.NewRequestWithContext(ctx, method, r.node.baseURL+path, body)
	require.NoError(t, err)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "%s", c.route)
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		a.body = make([]byte, 1)
		_, err = io.ReadFull(resp.Body, a.body) // the stream started: that is all a caller learns
	} else {
		a.body, err = io.ReadAll(resp.Body)
	}
	require.NoError(t, err, "%s", c.route)
	return a
}

// requireUnavailable calls c while PostgreSQL is cut off: 503, Retry-After,
// a problem naming PostgreSQL, and one log line with its cause.
func (r *outageRig) requireUnavailable(t *testing.T, c outageCall, ticket string) {
	t.Helper()
	a := r.do(t, c, ticket)
	require.Equal(t, http.StatusServiceUnavailable, a.status, "%s %s: %s", c.route, c.path, a.body)
	require.Equal(t, "application/problem+json", a.header.Get("Content-Type"), c.route)
	seconds, err := strconv.Atoi(a.header.Get("Retry-After"))
	require.NoError(t, err, "%s: Retry-After %q", c.route, a.header.Get("Retry-After"))
	require.Positive(t, seconds, c.route)
	var p struct {
		Status     int    `json:"status"`
		Detail     string `json:"detail"`
		Dependency string `json:"dependency"`
		RequestID  string `json:"request_id"`
	}
	require.NoError(t, json.Unmarshal(a.body, &p), "%s: %s", c.route, a.body)
	require.Equal(t, http.StatusServiceUnavailable, p.Status, c.route)
	require.Equal(t, "PostgreSQL", p.Dependency, "%s: %s", c.route, a.body)
	require.Contains(t, p.Detail, "PostgreSQL is unavailable", c.route)
	var logged []string
	for line := range strings.Lines(r.node.logs.String()) {
		if strings.Contains(line, p.RequestID) && strings.Contains(line, "A dependency is unavailable") {
			logged = append(logged, line)
		}
	}
	require.Len(t, logged, 1, "%s: the cause is logged once, with the request id", c.route)
	require.Contains(t, logged[0], "dependency=PostgreSQL", c.route)
	require.Contains(t, logged[0], "error=", c.route)
}

// requireWorks calls c once PostgreSQL is back until it is answered as it
// should be. A connection the pool held across the cut fails once, with a
// 503, on its first use: nothing changed, so calling again is what a
// client does.
func (r *outageRig) requireWorks(t *testing.T, c outageCall) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		ticket := ""
		if c.ticket {
			ticket = r.ticket(t)
		}
		a := r.do(t, c, ticket)
		switch a.status {
		case c.ok:
			return nil
		case http.StatusServiceUnavailable:
			return fmt.Errorf("%s: still %d %s", c.route, a.status, a.body)
		}
		t.Fatalf("%s %s after the outage: %d %s, want %d", c.route, c.path, a.status, a.body, c.ok)
		return nil
	})
}

// yearlySeries is a series whose occurrences fall once a year, at New
// Year: none during a test.
func yearlySeries(title string) map[string]any {
	return map[string]any{"title": title, "content": "Crier end-to-end: " + title, "target": map[string]any{"type": "ALL"},
		"recurrence": map[string]any{"cron": "0 0 1 1 *", "time_zone": "Europe/Berlin"}}
}
