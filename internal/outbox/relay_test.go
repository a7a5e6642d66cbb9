package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/outbox"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
)

// by is who the tests' changes are recorded as made by in the audit log.
var by = audit.Origin{Actor: audit.Actor{ID: "admin-1", Name: "Ada Admin", Roles: []string{"admin"}}, RequestID: "req-1"}

type testBundle struct {
	ctx     context.Context
	pool    *pgxpool.Pool
	store   *store.Store
	relay   *outbox.Relay
	brokers []string
	topic   string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	pool := testenv.Pool(t)
	topic := testenv.Name("crier-test")
	relay, err := outbox.New(pool, outbox.Config{Brokers: brokers, Topic: topic, Partitions: 3, BatchSize: 100, Logger: testenv.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = relay.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	require.NoError(t, relay.EnsureTopic(ctx))
	return &testBundle{ctx: ctx, pool: pool, store: store.New(pool), relay: relay, brokers: brokers, topic: topic}
}

func (tb *testBundle) insert(t *testing.T) broadcast.Broadcast {
	t.Helper()
	id := uuid.New()
	now := time.Now().UTC()
	exp := now.Add(time.Hour)
	b, _, err := tb.store.Insert(tb.ctx, by, broadcast.Broadcast{
		ID: id, Status: broadcast.StatusScheduled, Sender: broadcast.Sender{ID: "alice", Name: "Alice"},
		Title: "Hello", Content: "World", Category: "general", Priority: broadcast.PriorityNormal,
		Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}}, ScheduledAt: &now, ExpiresAt: &exp,
		WorkflowID: broadcast.WorkflowID(id),
	}, nil, nil)
	require.NoError(t, err)
	return b
}

// consume reads n events from the topic's beginning with an independent reader.
func (tb *testBundle) consume(t *testing.T, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: tb.brokers, Topic: tb.topic, GroupID: testenv.Name("reader"),
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond,
	})
	defer r.Close()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	var msgs []kafka.Message
	for len(msgs) < n {
		m, err := r.ReadMessage(ctx)
		require.NoError(t, err, "read %d of %d events", len(msgs), n)
		msgs = append(msgs, m)
	}
	return msgs
}

func (tb *testBundle) pending(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n))
	return n
}

func TestRelayWritesEventsKeyedAndInOrder(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t)
	_, err := tb.store.Publish(tb.ctx, b.ID)
	require.NoError(t, err)
	_, err = tb.store.Cancel(tb.ctx, by, b.ID)
	require.NoError(t, err)

	// The cancel waits behind its broadcast's publication: two passes.
	for tb.pending(t) > 0 {
		_, err := tb.relay.RelayOnce(tb.ctx)
		require.NoError(t, err)
	}

	msgs := tb.consume(t, 2)
	var events []broadcast.Event
	for _, m := range msgs {
		require.Equal(t, b.ID.String(), string(m.Key))
		var ev broadcast.Event
		require.NoError(t, json.Unmarshal(m.Value, &ev))
		require.NotEqual(t, uuid.Nil, ev.EventID)
		require.Equal(t, b.ID, ev.BroadcastID)
		require.Equal(t, b.ID, ev.Broadcast.ID)
		require.False(t, ev.OccurredAt.IsZero())
		events = append(events, ev)
	}
	require.Equal(t, broadcast.EventPublished, events[0].EventType)
	require.Equal(t, broadcast.StatusSent, events[0].Broadcast.Status)
	require.Equal(t, broadcast.EventCancelled, events[1].EventType)
	require.Equal(t, broadcast.StatusCancelled, events[1].Broadcast.Status)
	require.NotEqual(t, events[0].EventID, events[1].EventID)

	var raw map[string]any
	require.NoError(t, json.Unmarshal(msgs[0].Value, &raw))
	for _, field := range []string{"event_id", "event_type", "broadcast_id", "occurred_at", "broadcast"} {
		require.Contains(t, raw, field)
	}
}

// A row whose transaction commits after later rows were relayed is still
// relayed: rows are claimed by state, not by id.
func TestRelayNeverSkipsALateCommit(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	early, late := tb.insert(t), tb.insert(t)

	slow, err := tb.pool.Begin(tb.ctx)
	require.NoError(t, err)
	defer slow.Rollback(tb.ctx) //nolint:errcheck // committed below
	var slowOutboxID int64
	require.NoError(t, slow.QueryRow(tb.ctx, `
		INSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot)
		SELECT 'BROADCAST_PUBLISHED', id, now(), row_to_json(b) FROM (SELECT * FROM broadcasts WHERE id = $1) b
		RETURNING id`, early.ID).Scan(&slowOutboxID))

	_, err = tb.store.Publish(tb.ctx, late.ID) // takes a higher outbox id, commits first
	require.NoError(t, err)
	n, err := tb.relay.RelayOnce(tb.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the committed row is visible")

	require.NoError(t, slow.Commit(tb.ctx))
	n, err = tb.relay.RelayOnce(tb.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the late row is relayed once it commits")
	require.Zero(t, tb.pending(t))

	keys := map[string]bool{}
	for _, m := range tb.consume(t, 2) {
		keys[string(m.Key)] = true
	}
	require.Equal(t, map[string]bool{early.ID.String(): true, late.ID.String(): true}, keys)
	var maxID int64
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT max(id) FROM outbox`).Scan(&maxID))
	require.Less(t, slowOutboxID, maxID, "the late row really had the lower id")
}

// Relays running side by side each claim disjoint rows: every event reaches
// Kafka once.
func TestConcurrentRelaysShareTheWork(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	const total = 60
	for range total {
		b := tb.insert(t)
		_, err := tb.store.Publish(tb.ctx, b.ID)
		require.NoError(t, err)
	}
	second, err := outbox.New(tb.pool, outbox.Config{Brokers: tb.brokers, Topic: tb.topic, BatchSize: 7})
	require.NoError(t, err)
	defer second.Close()

	errs := make(chan error, 2)
	for _, r := range []*outbox.Relay{tb.relay, second} {
		go func() {
			for {
				n, err := r.RelayOnce(tb.ctx)
				if err != nil || n == 0 {
					errs <- err
					return
				}
			}
		}()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	require.Zero(t, tb.pending(t))

	seen := map[string]int{}
	for _, m := range tb.consume(t, total) {
		var ev broadcast.Event
		require.NoError(t, json.Unmarshal(m.Value, &ev))
		seen[ev.EventID.String()]++
	}
	require.Len(t, seen, total)
	for id, count := range seen {
		require.Equal(t, 1, count, "event %s", id)
	}
}

func TestRunRelaysNewEventsPromptly(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx, cancel := context.WithCancel(tb.ctx)
	done := make(chan error, 1)
	go func() { done <- tb.relay.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done, "Run ends without an error when stopped") })

	b := tb.insert(t)
	_, err := tb.store.Publish(tb.ctx, b.ID)
	require.NoError(t, err)

	msgs := tb.consume(t, 1)
	require.Equal(t, b.ID.String(), string(msgs[0].Key))
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := tb.pending(t); n > 0 {
			return fmt.Errorf("%d rows pending", n)
		}
		return nil
	})
}

// With Kafka unreachable nothing is lost: the batch stays pending with its
// attempt recorded, and the relay reports it so Run backs off.
func TestUnreachableKafkaKeepsRowsPending(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t)
	_, err := tb.store.Publish(tb.ctx, b.ID)
	require.NoError(t, err)
	dead, err := outbox.New(tb.pool, outbox.Config{Brokers: []string{"127.0.0.1:1"}, Topic: tb.topic})
	require.NoError(t, err)
	defer dead.Close()

	n, err := dead.RelayOnce(tb.ctx)

	require.Equal(t, 1, n)
	require.ErrorIs(t, err, outbox.ErrKafkaUnavailable)
	var (
		attempts  int
		lastError string
	)
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT attempts, last_error FROM outbox WHERE broadcast_id = $1 AND published_at IS NULL`, b.ID).Scan(&attempts, &lastError))
	require.Equal(t, 1, attempts)
	require.NotEmpty(t, lastError)

	// Once Kafka is back, the same row goes out.
	n, err = tb.relay.RelayOnce(tb.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, tb.pending(t))
}

// Issue 10: a read receipt carried the whole broadcast, so 300 reads of a
// broadcast of 1 MB put 300 MB on the topic. It names the broadcast and the
// reader only, also when its outbox row was written with a snapshot before.
func TestRelayWritesReadsWithIdsOnly(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t)
	_, err := tb.pool.Exec(tb.ctx, `
		INSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot, user_id)
		SELECT 'BROADCAST_READ', id, now(), row_to_json(broadcasts), 'alice' FROM broadcasts WHERE id = $1`, b.ID)
	require.NoError(t, err)
	_, err = tb.pool.Exec(tb.ctx, `
		INSERT INTO outbox (event_type, broadcast_id, occurred_at, user_id) VALUES ('BROADCAST_READ', $1, now(), 'bob')`, b.ID)
	require.NoError(t, err)
	for tb.pending(t) > 0 {
		_, err := tb.relay.RelayOnce(tb.ctx)
		require.NoError(t, err)
	}

	readers := map[string]bool{}
	for _, m := range tb.consume(t, 2) {
		var raw map[string]any
		require.NoError(t, json.Unmarshal(m.Value, &raw))
		require.NotContains(t, raw, "broadcast", "%s", m.Value)
		require.Equal(t, "BROADCAST_READ", raw["event_type"])
		require.Equal(t, b.ID.String(), raw["broadcast_id"])
		readers[raw["user_id"].(string)] = true
	}
	require.Equal(t, map[string]bool{"alice": true, "bob": true}, readers)
}
