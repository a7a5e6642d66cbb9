package audience_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/deadletter/deadlettertest"
	"github.com/crier/crier/internal/testenv"
)

// admin is who redrives in these tests.
var admin = audit.Origin{Actor: audit.Actor{ID: "ada", Name: "Ada", Roles: []string{"admin"}}, RequestID: "req-1"}

// encode is ev as the relay writes it.
func encode(t *testing.T, ev broadcast.Event) kafka.Message {
	t.Helper()
	value, err := json.Marshal(ev)
	require.NoError(t, err)
	return kafka.Message{Key: []byte(ev.BroadcastID.String()), Value: value,
		Headers: []kafka.Header{{Key: "event_id", Value: []byte(ev.EventID.String())}}}
}

// Poison produced straight into the topic between good events: the good
// ones are applied and the partition keeps flowing; each poison message is
// in the dead-letter topic (as it was, with why) and the table. A
// publication whose broadcast is gone is not poison: it is applied as a
// no-op, as before.
func TestPoisonIsDeadLetteredAndThePartitionFlows(t *testing.T) {
	t.Parallel()
	kb := setupKafka(t)
	group := testenv.Name("group")
	first, last := kb.publish(t, all()), kb.publish(t, selected("u1"))
	unknown := broadcast.Event{EventID: uuid.New(), EventType: "BROADCAST_SHOUTED", BroadcastID: uuid.New(), OccurredAt: time.Now()}
	gone := broadcast.Event{EventID: uuid.New(), EventType: broadcast.EventPublished, BroadcastID: uuid.New(), OccurredAt: time.Now()}
	poison := []kafka.Message{
		{Key: []byte("x"), Value: []byte("not JSON"), Headers: []kafka.Header{{Key: "origin", Value: []byte("test")}}},
		encode(t, unknown),
		{Key: []byte("x"), Value: []byte(`{"event_type": "BROADCAST_PUBLISHED"}`)},
	}
	msgs := slices.Concat([]kafka.Message{encode(t, first)}, poison, []kafka.Message{encode(t, gone), encode(t, last)})
	require.NoError(t, kb.writer.WriteMessages(kb.ctx, msgs...))
	kb.start(t, group)

	kb.waitCounted(t, first)
	kb.waitCounted(t, last)
	kb.waitCommitted(t, group, int64(len(msgs)))
	require.Equal(t, 1, kb.deliveries(t, last), "the event behind the poison was applied")
	require.Equal(t, 1, kb.logs.seen("Skipped the publication of a deleted broadcast"))
	require.Equal(t, 3, kb.count(t, `SELECT count(*) FROM processed_events`), "the good events, the gone one included")

	letters := kb.dead.WaitLetters(t, len(poison))
	slices.Reverse(letters) // oldest first: in offset order
	for i, want := range []deadletter.Reason{deadletter.ReasonUndecodable, deadletter.ReasonUnknownType, deadletter.ReasonInvalid} {
		l := letters[i]
		require.Equal(t, want, l.Reason, "offset %d", l.Offset)
		require.Equal(t, deadletter.StatusPending, l.Status)
		require.Equal(t, audience.Consumer, l.Consumer)
		require.Equal(t, kb.topic, l.Topic)
		require.Equal(t, int64(i+1), l.Offset)
		require.Equal(t, attempts, l.Attempts)
		require.Equal(t, deadletter.ID(audience.Consumer, kb.topic, 0, int64(i+1)), l.ID)
	}
	require.Contains(t, letters[1].Error, "BROADCAST_SHOUTED")
	require.Contains(t, letters[2].Error, "no event_id")

	for i, m := range kb.dead.Read(t, len(poison)) {
		require.Equal(t, poison[i].Value, m.Value, "the message as it was")
		require.Equal(t, poison[i].Key, m.Key)
		require.Equal(t, letters[i].ID.String(), deadlettertest.Header(m, deadletter.HeaderID))
		require.Equal(t, audience.Consumer, deadlettertest.Header(m, deadletter.HeaderConsumer))
		require.Equal(t, kb.topic, deadlettertest.Header(m, deadletter.HeaderTopic))
		require.Equal(t, "0", deadlettertest.Header(m, deadletter.HeaderPartition))
		require.Equal(t, strconv.Itoa(i+1), deadlettertest.Header(m, deadletter.HeaderOffset))
		require.Equal(t, string(letters[i].Reason), deadlettertest.Header(m, deadletter.HeaderReason))
		require.Equal(t, strconv.Itoa(attempts), deadlettertest.Header(m, deadletter.HeaderAttempts))
		require.NotEmpty(t, deadlettertest.Header(m, deadletter.HeaderError))
		require.NotEmpty(t, deadlettertest.Header(m, deadletter.HeaderAt))
	}
	require.Equal(t, "test", deadlettertest.Header(kb.dead.Read(t, 1)[0], "origin"), "the original headers are kept")
}

// An event PostgreSQL refuses for good is dead-lettered alone: the events
// applied with it in its batch are not held back. A redrive before the fix
// fails again and says so; after the fix it applies the event once, and
// neither a second redrive nor the redriven copy delivered twice applies it
// again.
func TestAnEventNoRetryCanApplyIsDeadLetteredAloneThenRedriven(t *testing.T) {
	t.Parallel()
	kb := setupKafka(t)
	_, err := kb.pool.Exec(kb.ctx, `ALTER TABLE deliveries ADD CONSTRAINT no_poison CHECK (user_id <> 'poison')`)
	require.NoError(t, err)
	before, poison, after := kb.publish(t, selected("u1")), kb.publish(t, selected("poison")), kb.publish(t, selected("u2"))
	group := testenv.Name("group")
	kb.send(t, before, poison, after)
	kb.start(t, group)

	kb.waitCounted(t, before)
	kb.waitCounted(t, after)
	kb.waitCommitted(t, group, 3)
	l := kb.dead.WaitLetters(t, 1)[0]
	require.Equal(t, deadletter.ReasonData, l.Reason)
	require.Contains(t, l.Error, "no_poison")
	require.Equal(t, int64(1), l.Offset)
	require.False(t, kb.stats(t, poison).Counted)

	// Redriven before the fix: it fails again, and the dead letter says so.
	redriving, err := kb.dead.Store.Redrive(kb.ctx, admin, l.ID)
	require.NoError(t, err)
	require.Equal(t, deadletter.StatusRedriving, redriving.Status)
	failed := kb.dead.WaitStatus(t, l.ID, deadletter.StatusFailed)
	require.Equal(t, 2*attempts, failed.Attempts)
	require.Equal(t, 1, failed.Redrives)
	require.Contains(t, failed.Error, "no_poison")
	require.Len(t, kb.dead.Letters(t), 1, "the failed redrive is recorded on its dead letter, not as a new one")
	require.Equal(t, l.ID.String(), deadlettertest.Header(kb.dead.Read(t, 2)[1], deadletter.HeaderID))

	// Fixed, then redriven: applied once.
	_, err = kb.pool.Exec(kb.ctx, `ALTER TABLE deliveries DROP CONSTRAINT no_poison`)
	require.NoError(t, err)
	_, err = kb.dead.Store.Redrive(kb.ctx, admin, l.ID)
	require.NoError(t, err)
	resolved := kb.dead.WaitStatus(t, l.ID, deadletter.StatusResolved)
	require.NotNil(t, resolved.ResolvedAt)
	require.Equal(t, int64(1), kb.waitCounted(t, poison).Targeted)
	require.Equal(t, 1, kb.deliveries(t, poison))
	kb.waitCommitted(t, group, 5)

	_, err = kb.dead.Store.Redrive(kb.ctx, admin, l.ID)
	require.ErrorIs(t, err, deadletter.ErrConflict, "a resolved dead letter is not redriven again")

	// The redriven copy delivered once more (at least once): dropped as a
	// duplicate. Were it applied again, the row deleted here would come back.
	_, err = kb.pool.Exec(kb.ctx, `DELETE FROM deliveries WHERE broadcast_id = $1`, poison.BroadcastID)
	require.NoError(t, err)
	require.NoError(t, kb.writer.WriteMessages(kb.ctx, kb.read(t, 4)))
	marker := kb.publish(t, selected("u3"))
	kb.send(t, marker)
	kb.waitCounted(t, marker)
	kb.waitCommitted(t, group, 7)
	require.Zero(t, kb.deliveries(t, poison), "the redriven event applied once")
	require.Equal(t, 1, kb.count(t, `SELECT count(*) FROM processed_events WHERE event_id = $1`, poison.EventID))
	require.Equal(t, deadletter.StatusResolved, kb.dead.WaitStatus(t, l.ID, deadletter.StatusResolved).Status)
	require.Equal(t, 2, kb.count(t, `SELECT count(*) FROM audit_log WHERE action = 'dead_letter.redrive' AND target_id = $1`, l.ID.String()))
}

// A redrive meant for another consumer is not the audience's to apply.
func TestARedriveForAnotherConsumerIsSkipped(t *testing.T) {
	t.Parallel()
	kb := setupKafka(t)
	group := testenv.Name("group")
	theirs, marker := kb.publish(t, selected("u1")), kb.publish(t, selected("u2"))
	m := encode(t, theirs)
	m.Headers = append(m.Headers, kafka.Header{Key: deadletter.HeaderRedriveOf, Value: []byte(uuid.NewString())},
		kafka.Header{Key: deadletter.HeaderRedriveFor, Value: []byte("stream-tail")})
	require.NoError(t, kb.writer.WriteMessages(kb.ctx, m, encode(t, marker)))
	kb.start(t, group)

	kb.waitCounted(t, marker)
	kb.waitCommitted(t, group, 2)
	require.False(t, kb.stats(t, theirs).Counted)
	require.Empty(t, kb.dead.Letters(t))
}

// stats is the event's broadcast's statistics as they stand.
func (kb *kafkaBundle) stats(t *testing.T, ev broadcast.Event) audience.Stats {
	t.Helper()
	st, err := kb.audience.Stats(kb.ctx, ev.BroadcastID)
	require.NoError(t, err)
	return st
}

// read returns the message at offset on the bundle's topic.
func (kb *kafkaBundle) read(t *testing.T, offset int64) kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: kb.brokers, Topic: kb.topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer func() { _ = r.Close() }()
	require.NoError(t, r.SetOffset(offset))
	m, err := r.ReadMessage(kb.ctx)
	require.NoError(t, err)
	require.Equal(t, offset, m.Offset, "the message at offset %d", offset)
	return kafka.Message{Key: m.Key, Value: m.Value, Headers: m.Headers}
}
