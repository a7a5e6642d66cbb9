package stream

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/deadletter/deadlettertest"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/testenv"
)

// The relay delivers at least once: an event written to Kafka twice reaches
// a stream once; the copy is not logged (its position still counts).
func TestTailPushesAnEventWrittenTwiceOnce(t *testing.T) {
	t.Parallel()
	ctx, brokers, topic, pool, c := startTailForAlice(t)

	// A BROADCAST_READ needs no broadcast row: the simplest event to send.
	ev := broadcast.Event{EventID: uuid.New(), EventType: broadcast.EventRead, BroadcastID: uuid.New(),
		OccurredAt: time.Now().UTC(), UserID: "alice"}
	value, err := json.Marshal(ev)
	require.NoError(t, err)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, BatchTimeout: time.Millisecond}
	defer w.Close()
	marker := ev
	marker.EventID = uuid.New()
	markerValue, err := json.Marshal(marker)
	require.NoError(t, err)
	require.NoError(t, w.WriteMessages(ctx, kafka.Message{Value: value}, kafka.Message{Value: value}, kafka.Message{Value: markerValue}))

	var got []*Event
	for len(got) < 2 {
		select {
		case <-c.wake:
			got = append(got, c.take()...)
		case <-ctx.Done():
			t.Fatalf("got %d events, want 2", len(got))
		}
	}
	require.Len(t, got, 2)
	require.Equal(t, ev.EventID, got[0].Value.EventID)
	require.Equal(t, marker.EventID, got[1].Value.EventID, "the copy was dropped")
	testenv.Eventually(t, 10*time.Second, func() error {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM stream_events`).Scan(&n); err != nil || n == 2 {
			return err
		}
		return context.DeadlineExceeded
	})
}

// A read event an older relay wrote with the whole broadcast is held and
// logged with ids only: the snapshot reaches neither the streams' queues
// nor stream_events.
func TestTailDropsTheSnapshotOfAnOldReadEvent(t *testing.T) {
	t.Parallel()
	ctx, brokers, topic, pool, c := startTailForAlice(t)

	id := uuid.New()
	old := broadcast.Event{EventID: uuid.New(), EventType: broadcast.EventRead, BroadcastID: id, OccurredAt: time.Now().UTC(),
		UserID: "alice", Broadcast: broadcast.Broadcast{ID: id, Title: "large", Target: broadcast.Target{Type: broadcast.TargetSelected, IDs: []string{"alice", "bob"}}}}
	value, err := json.Marshal(old)
	require.NoError(t, err)
	require.Contains(t, string(value), `"broadcast":`)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, BatchTimeout: time.Millisecond}
	defer w.Close()
	require.NoError(t, w.WriteMessages(ctx, kafka.Message{Value: value}))

	select {
	case <-c.wake:
	case <-ctx.Done():
		t.Fatal("the read never reached alice's stream")
	}
	got := c.take()
	require.Len(t, got, 1)
	require.Equal(t, id, got[0].Value.BroadcastID)
	require.Zero(t, got[0].Value.Broadcast)
	var payload string
	require.NoError(t, pool.QueryRow(ctx, `SELECT payload::text FROM stream_events`).Scan(&payload))
	require.NotContains(t, payload, "broadcast\":")
	require.Contains(t, payload, `"user_id":"alice"`)
}

// startTailForAlice runs a tail on a new one-partition topic and registers a
// stream of user alice on its hub; both stop when the test ends.
func startTailForAlice(t *testing.T) (context.Context, []string, string, *pgxpool.Pool, *conn) {
	t.Helper()
	tb := startTail(t, testenv.Pool(t))
	return tb.ctx, tb.brokers, tb.topic, tb.pool, tb.alice
}

// tailBundle is a tail running on a topic of its own, with its dead
// letters, and alice's stream on its hub.
type tailBundle struct {
	ctx     context.Context
	brokers []string
	topic   string
	pool    *pgxpool.Pool
	hub     *Hub
	alice   *conn
	dead    *deadlettertest.Env
}

// startTail runs a tail on pool and a new one-partition topic, as
// startTailForAlice does.
func startTail(t *testing.T, pool *pgxpool.Pool) *tailBundle {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.Name("tail-test")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	_, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}})
	require.NoError(t, err)
	dead := deadlettertest.New(t, pool, brokers, testenv.Logger(t))
	tb := &tailBundle{ctx: ctx, brokers: brokers, topic: topic, pool: pool, hub: NewHub(HubConfig{}), dead: dead}
	tb.run(t, cancel)
	tb.alice = newConn(inbox.User{ID: "alice"}, 8)
	tb.hub.register(tb.alice)
	return tb
}

// run starts a tail on the bundle's topic, stopped by cancel.
func (tb *tailBundle) run(t *testing.T, cancel context.CancelFunc) {
	t.Helper()
	tail := NewTail(tb.pool, tb.hub, TailConfig{Brokers: tb.brokers, Topic: tb.topic, Logger: testenv.Logger(t),
		DeadLetters: tb.dead.Policy(t, Consumer, 3)})
	done := make(chan error, 1)
	go func() { done <- tail.Run(tb.ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done, "Run ends without an error when stopped") })
	<-tb.hub.Ready()
}
