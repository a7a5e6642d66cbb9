package stream

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/deadletter/deadlettertest"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/testenv"
)

// readBy is a read receipt of user: an event that needs no broadcast row.
func readBy(t *testing.T, user string) (broadcast.Event, kafka.Message) {
	t.Helper()
	ev := broadcast.Event{EventID: uuid.New(), EventType: broadcast.EventRead, BroadcastID: uuid.New(), OccurredAt: time.Now().UTC(), UserID: user}
	value, err := json.Marshal(ev)
	require.NoError(t, err)
	return ev, kafka.Message{Key: []byte(ev.BroadcastID.String()), Value: value}
}

// produce writes msgs, in order, to the bundle's topic.
func (tb *tailBundle) produce(t *testing.T, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(tb.brokers...), Topic: tb.topic, BatchTimeout: time.Millisecond}
	defer func() { _ = w.Close() }()
	require.NoError(t, w.WriteMessages(tb.ctx, msgs...))
}

// another is a second API node: a tail of its own on the same topic and
// database, with its own hub and alice's stream on it.
func (tb *tailBundle) another(t *testing.T) *tailBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	other := &tailBundle{ctx: ctx, brokers: tb.brokers, topic: tb.topic, pool: tb.pool, hub: NewHub(HubConfig{}), dead: tb.dead}
	other.run(t, cancel)
	other.alice = newConn(inbox.User{ID: "alice"}, 8)
	other.hub.register(other.alice)
	return other
}

// receive waits for n events on c and returns their ids.
func receive(ctx context.Context, t *testing.T, c *conn, n int) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for len(ids) < n {
		select {
		case <-c.wake:
			for _, ev := range c.take() {
				ids = append(ids, ev.Value.EventID)
			}
		case <-ctx.Done():
			t.Fatalf("got %d events, want %d", len(ids), n)
		}
	}
	return ids
}

// Poison produced straight into the topic between two good events, read by
// two API nodes: both push the good events and keep flowing; each writes
// the poison to the dead-letter topic, and the table holds one dead letter
// per message.
func TestTailDeadLettersPoisonAndKeepsFlowing(t *testing.T) {
	t.Parallel()
	a := startTail(t, testenv.Pool(t))
	b := a.another(t)
	first, firstMsg := readBy(t, "alice")
	last, lastMsg := readBy(t, "alice")
	unknown, _ := json.Marshal(broadcast.Event{EventID: uuid.New(), EventType: "BROADCAST_SHOUTED", BroadcastID: uuid.New()})
	a.produce(t, firstMsg, kafka.Message{Value: []byte("not JSON")}, kafka.Message{Value: unknown}, lastMsg)

	for _, node := range []*tailBundle{a, b} {
		require.Equal(t, []uuid.UUID{first.EventID, last.EventID}, receive(node.ctx, t, node.alice, 2))
	}
	letters := a.dead.WaitLetters(t, 2)
	slices.Reverse(letters)
	require.Equal(t, []deadletter.Reason{deadletter.ReasonUndecodable, deadletter.ReasonUnknownType},
		[]deadletter.Reason{letters[0].Reason, letters[1].Reason})
	for i, l := range letters {
		require.Equal(t, Consumer, l.Consumer)
		require.Equal(t, int64(i+1), l.Offset)
		require.Equal(t, deadletter.StatusPending, l.Status)
	}
	msgs := a.dead.Read(t, 4) // two nodes, two poison messages each
	for _, m := range msgs {
		require.Contains(t, []string{letters[0].ID.String(), letters[1].ID.String()}, deadlettertest.Header(m, deadletter.HeaderID))
	}
	var logged []int64
	rows, err := a.pool.Query(a.ctx, `SELECT kafka_offset FROM stream_events ORDER BY kafka_offset`)
	require.NoError(t, err)
	for rows.Next() {
		var off int64
		require.NoError(t, rows.Scan(&off))
		logged = append(logged, off)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []int64{0, 3}, logged, "the good events are logged; the poison is not")
}

// An event PostgreSQL refuses for good is dead-lettered alone, its batch's
// other events logged and pushed; redriven after the fix, it is logged and
// pushed like any event, and its dead letter resolved. A redrive for
// another consumer is not the tail's.
func TestTailDeadLettersWhatPostgreSQLRefusesThenRedrives(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	_, err := pool.Exec(context.Background(), `ALTER TABLE stream_events ADD CONSTRAINT no_poison CHECK (user_id IS DISTINCT FROM 'poison')`)
	require.NoError(t, err)
	tb := startTail(t, pool)
	tb.hub.register(newConn(inbox.User{ID: "poison"}, 8))
	before, beforeMsg := readBy(t, "alice")
	poison, poisonMsg := readBy(t, "poison")
	after, afterMsg := readBy(t, "alice")
	tb.produce(t, beforeMsg, poisonMsg, afterMsg)

	require.Equal(t, []uuid.UUID{before.EventID, after.EventID}, receive(tb.ctx, t, tb.alice, 2))
	l := tb.dead.WaitLetters(t, 1)[0]
	require.Equal(t, deadletter.ReasonData, l.Reason)
	require.Contains(t, l.Error, "no_poison")

	_, err = pool.Exec(tb.ctx, `ALTER TABLE stream_events DROP CONSTRAINT no_poison`)
	require.NoError(t, err)
	admin := audit.Origin{Actor: audit.Actor{ID: "ada", Name: "Ada", Roles: []string{"admin"}}}
	_, err = tb.dead.Store.Redrive(tb.ctx, admin, l.ID)
	require.NoError(t, err)
	tb.dead.WaitStatus(t, l.ID, deadletter.StatusResolved)
	var offset int64
	require.NoError(t, pool.QueryRow(tb.ctx, `SELECT kafka_offset FROM stream_events WHERE event_id = $1`, poison.EventID).Scan(&offset))
	require.Equal(t, int64(3), offset, "logged at the redriven copy's position")

	// Theirs: skipped, not logged; the marker behind it is.
	_, theirs := readBy(t, "alice")
	theirs.Headers = []kafka.Header{{Key: deadletter.HeaderRedriveOf, Value: []byte(uuid.NewString())},
		{Key: deadletter.HeaderRedriveFor, Value: []byte("audience")}}
	marker, markerMsg := readBy(t, "alice")
	tb.produce(t, theirs, markerMsg)
	require.Equal(t, []uuid.UUID{marker.EventID}, receive(tb.ctx, t, tb.alice, 1))
	var n int
	require.NoError(t, pool.QueryRow(tb.ctx, `SELECT count(*) FROM stream_events WHERE kafka_offset = 4`).Scan(&n))
	require.Zero(t, n, "the redrive for the audience at offset 4 is not logged (%d)", n)
}
