package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
)

// setupPresence is setup with the presence route served from a real store.
func setupPresence(t *testing.T) (*testBundle, *presence.Store) {
	t.Helper()
	pool := testenv.Pool(t)
	st, ps := store.New(pool), presence.New(pool)
	secret := []byte("crier-api-test-secret-0123456789")
	e := api.New(st, &fakeWorkflows{store: st}, api.Config{
		Verifier: auth.NewVerifier(secret),
		Logger:   testenv.Logger(t),
		Presence: ps,
	})
	return &testBundle{
		e: e, pool: pool, store: st, secret: secret,
		token: issue(t, secret, "admin-1", "Ada Admin", []string{auth.RoleAdmin}, time.Hour, time.Now()),
	}, ps
}

// presenceAnswer is the documented shape of GET /admin/presence.
type presenceAnswer struct {
	OnlineUsers int `json:"online_users"`
	Connections int `json:"connections"`
	Nodes       []struct {
		NodeID      string    `json:"node_id"`
		Connections int       `json:"connections"`
		Users       int       `json:"users"`
		LastSeenAt  time.Time `json:"last_seen_at"`
		Stale       bool      `json:"stale"`
	} `json:"nodes"`
}

func TestPresence(t *testing.T) {
	t.Parallel()
	tb, ps := setupPresence(t)
	ctx := context.Background()
	for _, c := range [][2]string{{"node-b", "u1"}, {"node-b", "u2"}, {"node-a", "u1"}, {"node-dead", "u3"}} {
		require.NoError(t, ps.Register(ctx, presence.Connection{ID: uuid.New(), NodeID: c[0], UserID: c[1]}))
	}
	_, err := tb.pool.Exec(ctx, `UPDATE connections SET last_seen_at = now() - interval '2 minutes' WHERE node_id = 'node-dead'`)
	require.NoError(t, err)

	rec := tb.do(t, http.MethodGet, "/api/v1/admin/presence", "")

	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	var got presenceAnswer
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&got))
	require.Equal(t, 2, got.OnlineUsers, "u1 and u2; the stale node's user is not online")
	require.Equal(t, 3, got.Connections)
	require.Len(t, got.Nodes, 3)
	for i, want := range []struct {
		node         string
		conns, users int
		stale        bool
	}{{"node-a", 1, 1, false}, {"node-b", 2, 2, false}, {"node-dead", 1, 1, true}} {
		n := got.Nodes[i]
		require.Equal(t, want.node, n.NodeID)
		require.Equal(t, want.conns, n.Connections, want.node)
		require.Equal(t, want.users, n.Users, want.node)
		require.Equal(t, want.stale, n.Stale, want.node)
		require.Equal(t, time.UTC, n.LastSeenAt.Location(), "times are answered in UTC")
	}
	require.WithinDuration(t, time.Now(), got.Nodes[0].LastSeenAt, time.Minute)
	require.WithinDuration(t, time.Now().Add(-2*time.Minute), got.Nodes[2].LastSeenAt, time.Minute)
}

func TestPresenceWithoutConnections(t *testing.T) {
	t.Parallel()
	tb, _ := setupPresence(t)

	rec := tb.do(t, http.MethodGet, "/api/v1/admin/presence", "")

	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	require.JSONEq(t, `{"online_users": 0, "connections": 0, "nodes": []}`, rec.Body.String())
}

func TestPresenceNeedsAnAdmin(t *testing.T) {
	t.Parallel()
	tb, _ := setupPresence(t)
	user := issue(t, tb.secret, "u1", "", []string{"user"}, time.Hour, time.Now())

	requireProblem(t, tb.do(t, http.MethodGet, "/api/v1/admin/presence", "", withToken("")), http.StatusUnauthorized, "token")
	requireProblem(t, tb.do(t, http.MethodGet, "/api/v1/admin/presence", "", withToken(user)), http.StatusForbidden, `"admin" role`)
}

func TestPresenceRouteNeedsAPresence(t *testing.T) {
	t.Parallel()
	tb := setup(t) // no Presence configured

	requireProblem(t, tb.do(t, http.MethodGet, "/api/v1/admin/presence", ""), http.StatusNotFound, "no route")
}

// brokenPresence fails as a presence store does when PostgreSQL is down.
type brokenPresence struct{}

func (brokenPresence) Summary(context.Context) (presence.Summary, error) {
	return presence.Summary{}, errors.New("summarise connections: dial tcp 127.0.0.1:5432: connect: connection refused")
}

func TestPresenceStoreDown(t *testing.T) {
	t.Parallel()
	secret := []byte("crier-api-test-secret-0123456789")
	e := api.New(nil, nil, api.Config{Verifier: auth.NewVerifier(secret), Logger: testenv.Logger(t), Presence: brokenPresence{}})
	tb := &testBundle{e: e, secret: secret, token: issue(t, secret, "admin-1", "", []string{auth.RoleAdmin}, time.Hour, time.Now())}

	rec := tb.do(t, http.MethodGet, "/api/v1/admin/presence", "")

	p := requireProblem(t, rec, http.StatusInternalServerError, "request id")
	require.NotContains(t, p.Detail, "5432", "internals never reach the client")
}
