package presence_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/testenv"
)

type testBundle struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	store *presence.Store
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := testenv.Pool(t)
	return &testBundle{ctx: context.Background(), pool: pool, store: presence.New(pool)}
}

// connect registers a connection of user on node and returns its id.
func (tb *testBundle) connect(t *testing.T, node, user string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	require.NoError(t, tb.store.Register(tb.ctx, presence.Connection{ID: id, NodeID: node, UserID: user}))
	return id
}

// age makes every connection of node last seen ago.
func (tb *testBundle) age(t *testing.T, node string, ago time.Duration) {
	t.Helper()
	_, err := tb.pool.Exec(tb.ctx, `UPDATE connections SET last_seen_at = now() - $2 * interval '1 second' WHERE node_id = $1`,
		node, ago.Seconds())
	require.NoError(t, err)
}

// nodes counts the rows of each node.
func (tb *testBundle) nodes(t *testing.T) map[string]int {
	t.Helper()
	rows, err := tb.pool.Query(tb.ctx, `SELECT node_id, count(*) FROM connections GROUP BY node_id`)
	require.NoError(t, err)
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var (
			node string
			n    int
		)
		require.NoError(t, rows.Scan(&node, &n))
		counts[node] = n
	}
	require.NoError(t, rows.Err())
	return counts
}

// lastSeen returns how long ago the oldest connection of node was refreshed.
func (tb *testBundle) lastSeen(t *testing.T, node string) time.Duration {
	t.Helper()
	var secs float64
	require.NoError(t, tb.pool.QueryRow(tb.ctx,
		`SELECT extract(epoch FROM clock_timestamp() - min(last_seen_at)) FROM connections WHERE node_id = $1`, node).Scan(&secs))
	return time.Duration(secs * float64(time.Second))
}

// countUser counts the rows of user, live or stale.
func (tb *testBundle) countUser(t *testing.T, user string) int {
	t.Helper()
	var n int
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT count(*) FROM connections WHERE user_id = $1`, user).Scan(&n))
	return n
}

// admit admits a new connection of user on node-a under limit.
func (tb *testBundle) admit(user string, limit int) error {
	return tb.store.Admit(tb.ctx, presence.Connection{ID: uuid.New(), NodeID: "node-a", UserID: user}, limit)
}

func TestRegisterAndUnregister(t *testing.T) {
	t.Parallel()
	tb := setup(t)

	id := tb.connect(t, "node-a", "u1")
	tb.connect(t, "node-b", "u1")
	require.Equal(t, 2, tb.countUser(t, "u1"), "connections count across nodes")

	tb.age(t, "node-a", time.Hour)
	require.NoError(t, tb.store.Register(tb.ctx, presence.Connection{ID: id, NodeID: "node-a", UserID: "u1"}),
		"registering again restores a removed or stale row")
	require.Less(t, tb.lastSeen(t, "node-a"), 10*time.Second)
	require.Equal(t, map[string]int{"node-a": 1, "node-b": 1}, tb.nodes(t))

	require.NoError(t, tb.store.Unregister(tb.ctx, id))
	require.NoError(t, tb.store.Unregister(tb.ctx, id), "a connection already gone unregisters fine")
	require.Equal(t, 1, tb.countUser(t, "u1"))
	require.Zero(t, tb.countUser(t, "nobody"))
}

func TestRegisterNeedsEveryField(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for _, c := range []presence.Connection{
		{NodeID: "node-a", UserID: "u1"},
		{ID: uuid.New(), UserID: "u1"},
		{ID: uuid.New(), NodeID: "node-a"},
	} {
		require.Error(t, tb.store.Register(tb.ctx, c), "%+v", c)
	}
	require.Empty(t, tb.nodes(t))
}

func TestTouchRefreshesOnlyItsNode(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.connect(t, "node-a", "u1")
	tb.connect(t, "node-a", "u2")
	tb.connect(t, "node-b", "u3")
	tb.age(t, "node-a", 5*time.Minute)
	tb.age(t, "node-b", 5*time.Minute)

	n, err := tb.store.Touch(tb.ctx, "node-a")
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	require.Less(t, tb.lastSeen(t, "node-a"), 10*time.Second)
	require.Greater(t, tb.lastSeen(t, "node-b"), 4*time.Minute)

	n, err = tb.store.Touch(tb.ctx, "node-gone")
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestAdmitIgnoresStaleNodes(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.connect(t, "node-a", "u1")
	tb.connect(t, "node-a", "u1")
	tb.connect(t, "node-dead", "u1")
	tb.age(t, "node-dead", presence.StaleAfter+time.Second)

	require.NoError(t, tb.admit("u1", 3), "a crashed node's rows must not hold the user's slots")
	require.ErrorIs(t, tb.admit("u1", 3), presence.ErrUserFull)
	require.NoError(t, tb.admit("u2", 3), "other users are not affected")
	require.Equal(t, 4, tb.countUser(t, "u1"), "a refused admission records nothing")
}

// Issue 10: the limit was a count, then an insert, so concurrent opens all
// counted the same rows and all got in. Admissions of one user now queue on
// a lock: 20 at once under a limit of 5 admit exactly 5.
func TestAdmitHoldsTheLimitUnderConcurrentOpens(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	const opens, limit = 20, 5
	errs := make(chan error, opens)
	start := make(chan struct{})
	for range opens {
		go func() {
			<-start
			errs <- tb.admit("u1", limit)
		}()
	}
	close(start)
	admitted, refused := 0, 0
	for range opens {
		err := <-errs
		switch {
		case err == nil:
			admitted++
		case errors.Is(err, presence.ErrUserFull):
			refused++
		default:
			require.NoError(t, err)
		}
	}
	require.Equal(t, limit, admitted)
	require.Equal(t, opens-limit, refused)
	require.Equal(t, limit, tb.countUser(t, "u1"))
}

func TestAdmitNeedsEveryField(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	require.Error(t, tb.store.Admit(tb.ctx, presence.Connection{NodeID: "node-a", UserID: "u1"}, 5))
	require.Empty(t, tb.nodes(t))
}

func TestRemoveStale(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.connect(t, "node-live", "u1")
	tb.connect(t, "node-live", "u2")
	tb.connect(t, "node-slow", "u1")
	tb.connect(t, "node-dead", "u1")
	tb.connect(t, "node-dead", "u3")
	tb.age(t, "node-slow", 30*time.Second) // late to refresh, but younger than the removal age
	tb.age(t, "node-dead", 5*time.Minute)

	removed, err := tb.store.RemoveStale(tb.ctx, presence.DefaultRemoveAfter)
	require.NoError(t, err)
	require.EqualValues(t, 2, removed)
	require.Equal(t, map[string]int{"node-live": 2, "node-slow": 1}, tb.nodes(t))

	removed, err = tb.store.RemoveStale(tb.ctx, presence.DefaultRemoveAfter)
	require.NoError(t, err)
	require.Zero(t, removed, "a second run finds nothing")
}

func TestRemoveStaleRefusesNonPositiveAge(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.connect(t, "node-a", "u1")
	for _, age := range []time.Duration{0, -time.Second} {
		_, err := tb.store.RemoveStale(tb.ctx, age)
		require.ErrorContains(t, err, "must be positive")
	}
	require.Equal(t, map[string]int{"node-a": 1}, tb.nodes(t))
}

func TestRemoveStaleInBatches(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	const dead = 12_345 // more than two batches
	_, err := tb.pool.Exec(tb.ctx, `
		INSERT INTO connections (id, node_id, user_id, last_seen_at)
		SELECT gen_random_uuid(), 'node-dead', 'u' || i, now() - interval '10 minutes'
		FROM generate_series(1, $1) AS i`, dead)
	require.NoError(t, err)
	tb.connect(t, "node-live", "u1")

	removed, err := tb.store.RemoveStale(tb.ctx, presence.DefaultRemoveAfter)
	require.NoError(t, err)
	require.EqualValues(t, dead, removed)
	require.Equal(t, map[string]int{"node-live": 1}, tb.nodes(t))
}

func TestRemoveNode(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for i := range 3 {
		tb.connect(t, "node-a", fmt.Sprintf("u%d", i))
	}
	tb.connect(t, "node-b", "u1")

	removed, err := tb.store.RemoveNode(tb.ctx, "node-a")
	require.NoError(t, err)
	require.EqualValues(t, 3, removed)
	require.Equal(t, map[string]int{"node-b": 1}, tb.nodes(t))
}
