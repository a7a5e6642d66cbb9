package audience_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
)

// by is who the tests' changes are recorded as made by in the audit log.
var by = audit.Origin{Actor: audit.Actor{ID: "admin-1", Name: "Ada Admin", Roles: []string{"admin"}}, RequestID: "req-1"}

type testBundle struct {
	ctx      context.Context
	pool     *pgxpool.Pool
	audience *audience.Audience
	store    *store.Store
	// queries counts the statements sent through pool.
	queries *queryCounter
}

func setup(t *testing.T) *testBundle {
	return setupWith(t, audience.Config{})
}

func setupWith(t *testing.T, cfg audience.Config) *testBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	poolCfg, err := pgxpool.ParseConfig(testenv.DatabaseURL(t))
	require.NoError(t, err)
	queries := &queryCounter{}
	poolCfg.ConnConfig.Tracer = queries
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	a, err := audience.New(pool, cfg)
	require.NoError(t, err)
	return &testBundle{ctx: ctx, pool: pool, audience: a, store: store.New(pool), queries: queries}
}

// queryCounter is a pgx tracer that counts statements.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (q *queryCounter) count() int64 { return q.n.Load() }

// users stores admin entries: id -> roles.
func (tb *testBundle) users(t *testing.T, roles map[string][]string) {
	t.Helper()
	for id, r := range roles {
		_, err := tb.audience.Upsert(tb.ctx, by, audience.User{ID: id, Name: "User " + id, Roles: r})
		require.NoError(t, err)
	}
}

// insert stores a scheduled broadcast with target.
func (tb *testBundle) insert(t *testing.T, target broadcast.Target) broadcast.Broadcast {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	at := time.Now().UTC()
	exp := at.Add(time.Hour)
	b, created, err := tb.store.Insert(tb.ctx, by, broadcast.Broadcast{
		ID: id, Status: broadcast.StatusScheduled, Sender: broadcast.Sender{ID: "alice", Name: "Alice"},
		Title: "Maintenance", Content: "Tonight at 22:00", Category: "ops", Priority: broadcast.PriorityNormal,
		Target: target, ScheduledAt: &at, ExpiresAt: &exp, WorkflowID: broadcast.WorkflowID(id),
	}, nil, nil)
	require.NoError(t, err)
	require.True(t, created)
	return b
}

// publish stores a broadcast with target, publishes it and returns its
// BROADCAST_PUBLISHED event.
func (tb *testBundle) publish(t *testing.T, target broadcast.Target) broadcast.Event {
	t.Helper()
	b := tb.insert(t, target)
	res, err := tb.store.Publish(tb.ctx, b.ID)
	require.NoError(t, err)
	require.True(t, res.Applied)
	return broadcast.Event{EventID: uuid.New(), EventType: broadcast.EventPublished, BroadcastID: b.ID,
		OccurredAt: time.Now().UTC(), Broadcast: res.Broadcast}
}

func (tb *testBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, tb.pool.QueryRow(tb.ctx, sql, args...).Scan(&n))
	return n
}

func all() broadcast.Target { return broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}} }

func roles(ids ...string) broadcast.Target {
	return broadcast.Target{Type: broadcast.TargetRole, IDs: ids}
}

func selected(ids ...string) broadcast.Target {
	return broadcast.Target{Type: broadcast.TargetSelected, IDs: ids}
}

// logRecorder counts the log messages it sees, at every level, and passes
// those at info and above on to the test log.
type logRecorder struct {
	mu       sync.Mutex
	messages map[string]int
}

func (r *logRecorder) seen(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.messages[msg]
}
