package audience_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/deadletter/deadlettertest"
	"github.com/crier/crier/internal/testenv"
)

// kafkaBundle is a test bundle with a topic of its own, one partition so
// offsets are easy to follow.
type kafkaBundle struct {
	*testBundle
	brokers []string
	topic   string
	writer  *kafka.Writer
	logs    *logRecorder
	// dead is the bundle's dead-letter topic and table.
	dead *deadlettertest.Env
}

func setupKafka(t *testing.T) *kafkaBundle {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	tb := setup(t)
	topic := testenv.Name("crier-audience-test")
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	resp, err := client.CreateTopics(tb.ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: fmt.Sprint(4 << 20)}},
	}}})
	require.NoError(t, err)
	require.NoError(t, resp.Errors[topic])
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchBytes: 4 << 20}
	t.Cleanup(func() { _ = w.Close() })
	logs := &logRecorder{messages: map[string]int{}}
	dead := deadlettertest.New(t, tb.pool, brokers, slog.New(recordingHandler{rec: logs, next: testenv.Logger(t).Handler()}))
	return &kafkaBundle{testBundle: tb, brokers: brokers, topic: topic, writer: w, logs: logs, dead: dead}
}

// attempts is how many times the tests' Materializers try a message that
// fails for good.
const attempts = 3

// send writes events, in order, in one produce call.
func (kb *kafkaBundle) send(t *testing.T, events ...broadcast.Event) {
	t.Helper()
	msgs := make([]kafka.Message, len(events))
	for i, ev := range events {
		value, err := json.Marshal(ev)
		require.NoError(t, err)
		msgs[i] = kafka.Message{Key: []byte(ev.BroadcastID.String()), Value: value}
	}
	require.NoError(t, kb.writer.WriteMessages(kb.ctx, msgs...))
}

// start runs a Materializer in group until the test ends or the returned
// stop is called.
func (kb *kafkaBundle) start(t *testing.T, group string) (stop func()) {
	t.Helper()
	m, err := audience.NewMaterializer(kb.pool, audience.MaterializerConfig{
		Brokers: kb.brokers, Topic: kb.topic, GroupID: group,
		Logger:      slog.New(recordingHandler{rec: kb.logs, next: testenv.Logger(t).Handler()}),
		DeadLetters: kb.dead.Policy(t, audience.Consumer, attempts),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(kb.ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	t.Cleanup(stop)
	return stop
}

// committed is the group's committed offset on partition 0: the offset of
// the next message it will read, or -1 before any commit.
func (kb *kafkaBundle) committed(t *testing.T, group string) int64 {
	t.Helper()
	offset, err := kb.fetchCommitted(group)
	require.NoError(t, err)
	return offset
}

func (kb *kafkaBundle) fetchCommitted(group string) (int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(kb.brokers...), Timeout: 10 * time.Second}
	resp, err := client.OffsetFetch(kb.ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{kb.topic: {0}}})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return 0, err
	}
	return resp.Topics[kb.topic][0].CommittedOffset, nil
}

// waitCommitted waits until group has committed every message before offset.
// A failed fetch (the group's coordinator moving, on a busy broker) is
// asked again.
func (kb *kafkaBundle) waitCommitted(t *testing.T, group string, offset int64) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		got, err := kb.fetchCommitted(group)
		if err == nil && got != offset {
			err = fmt.Errorf("committed offset is %d, want %d", got, offset)
		}
		return err
	})
}

// waitCounted waits until the targeted count of the event's broadcast is
// fixed and returns it.
func (kb *kafkaBundle) waitCounted(t *testing.T, ev broadcast.Event) audience.Stats {
	t.Helper()
	var st audience.Stats
	testenv.Eventually(t, 30*time.Second, func() error {
		var err error
		if st, err = kb.audience.Stats(kb.ctx, ev.BroadcastID); err == nil && !st.Counted {
			err = errors.New("publication not consumed yet")
		}
		return err
	})
	return st
}

func (kb *kafkaBundle) deliveries(t *testing.T, ev broadcast.Event) int {
	t.Helper()
	return kb.count(t, `SELECT count(*) FROM deliveries WHERE broadcast_id = $1 AND status = 'PENDING'`, ev.BroadcastID)
}

func TestPublicationFixesTheTargetedCount(t *testing.T) {
	t.Parallel()
	kb := setupKafka(t)
	kb.users(t, map[string][]string{"u1": {"ops", "dev"}, "u2": {"ops"}, "u3": {"sales"}, "u4": nil})
	everyone, ops, chosen := kb.publish(t, all()), kb.publish(t, roles("ops", "dev")), kb.publish(t, selected("u1", "x9", "u1"))
	kb.send(t, everyone, ops, chosen)
	kb.start(t, testenv.Name("group"))

	require.Equal(t, int64(4), kb.waitCounted(t, everyone).Targeted)
	require.Equal(t, int64(2), kb.waitCounted(t, ops).Targeted, "u1 holds both roles and counts once")
	require.Equal(t, int64(2), kb.waitCounted(t, chosen).Targeted, "a repeated id counts once")
	require.Zero(t, kb.deliveries(t, everyone), "ALL and ROLE fan out on read")
	require.Zero(t, kb.deliveries(t, ops))

	// The count is fixed at publication: later users do not change it.
	kb.users(t, map[string][]string{"u5": {"ops"}})
	st, err := kb.audience.Stats(kb.ctx, ops.BroadcastID)
	require.NoError(t, err)
	require.Equal(t, int64(2), st.Targeted)
}

func TestSelectedPublicationFansOut(t *testing.T) {
	t.Parallel()
	kb := setupKafka(t)
	const n = 10_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%05d", i)
	}
	ev := kb.publish(t, selected(ids...))
	// Another part of Crier may have recorded a delivery first: it is kept.
	_, err := kb.pool.Exec(kb.ctx, `INSERT INTO deliveries (broadcast_id, user_id, status, delivered_at) VALUES ($1, 'user-00042', 'DELIVERED', now())`, ev.BroadcastID)
	require.NoError(t, err)
	group := testenv.Name("group")
	kb.start(t, group)

	started := time.Now()
	kb.send(t, ev)
	st := kb.waitCounted(t, ev)
	t.Logf("fan-out of a %d-id SELECTED broadcast, from produce to committed rows: %s", n, time.Since(started))

	require.Equal(t, int64(n), st.Targeted)
	require.Equal(t, int64(1), st.Delivered)
	require.Equal(t, n-1, kb.deliveries(t, ev))
	require.Equal(t, n, kb.count(t, `SELECT count(*) FROM deliveries WHERE broadcast_id = $1`, ev.BroadcastID))
	kb.waitCommitted(t, group, 1)
}

func TestDuplicateEventsApplyOnce(t *testing.T) {
	t.Parallel()
	kb := setupKafka(t)
	ev := kb.publish(t, selected("u1", "u2", "u3"))
	group := testenv.Name("group")
	kb.start(t, group)

	kb.send(t, ev, ev) // twice in one burst
	kb.waitCommitted(t, group, 2)
	require.Equal(t, 3, kb.deliveries(t, ev))

	// Were the event applied again, the row deleted here would come back.
	_, err := kb.pool.Exec(kb.ctx, `DELETE FROM deliveries WHERE broadcast_id = $1 AND user_id = 'u3'`, ev.BroadcastID)
	require.NoError(t, err)
	later := kb.publish(t, selected("u9"))
	kb.send(t, ev, later) // redelivered later, then another event behind it
	kb.waitCounted(t, later)
	kb.waitCommitted(t, group, 4)

	require.Equal(t, 2, kb.deliveries(t, ev), "the redelivered event was dropped")
	require.Equal(t, 2, kb.logs.seen("Dropped a duplicate event"))
	require.Equal(t, 2, kb.count(t, `SELECT count(*) FROM processed_events WHERE consumer = $1`, audience.Consumer))
}

// Offsets are committed only once the effects are: a consumer restarting in
// the same group resumes after what was applied, not before, not after.
func TestOffsetsAreCommittedAfterTheEffects(t *testing.T) {
	t.Parallel()
	kb := setupKafka(t)
	group := testenv.Name("group")
	first := kb.publish(t, selected("u1"))

	// PostgreSQL refuses every write: nothing may be committed to Kafka.
	_, err := kb.pool.Exec(kb.ctx, `ALTER TABLE processed_events RENAME TO processed_events_away`)
	require.NoError(t, err)
	kb.send(t, first)
	stop := kb.start(t, group)
	testenv.Eventually(t, 30*time.Second, func() error {
		// A lone event is retried by the dead-letter policy, a batch here.
		if n := kb.logs.seen("Applying events failed; will retry") + kb.logs.seen("Processing a message failed; will retry"); n < 2 {
			return fmt.Errorf("%d failed attempts so far", n)
		}
		return nil
	})
	require.Equal(t, int64(-1), kb.committed(t, group), "nothing is committed while the effects fail")

	// PostgreSQL is back: the same event is applied, then committed.
	_, err = kb.pool.Exec(kb.ctx, `ALTER TABLE processed_events_away RENAME TO processed_events`)
	require.NoError(t, err)
	kb.waitCounted(t, first)
	kb.waitCommitted(t, group, 1)
	stop()

	// A new member of the group sees only what was not applied.
	second := kb.publish(t, selected("u2"))
	kb.send(t, second)
	kb.start(t, group)
	kb.waitCounted(t, second)
	kb.waitCommitted(t, group, 2)
	require.Zero(t, kb.logs.seen("Dropped a duplicate event"), "the applied event was not read again")
	require.Empty(t, kb.dead.Letters(t), "an outage is waited out, never dead-lettered")
	require.Zero(t, kb.dead.End(t))
	require.Equal(t, 1, kb.deliveries(t, first))
	require.Equal(t, 1, kb.deliveries(t, second))
}

func TestNewMaterializerNeedsBrokers(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := audience.NewMaterializer(tb.pool, audience.MaterializerConfig{})
	require.ErrorContains(t, err, "KAFKA_BROKERS")
	_, err = audience.NewMaterializer(tb.pool, audience.MaterializerConfig{Brokers: []string{"127.0.0.1:9092"}})
	require.ErrorContains(t, err, "dead-letter policy")
}

// recordingHandler counts every record in rec and passes those next
// enables on to it.
type recordingHandler struct {
	rec  *logRecorder
	next slog.Handler
}

func (h recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.rec.mu.Lock()
	h.rec.messages[r.Message]++
	h.rec.mu.Unlock()
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h recordingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return recordingHandler{rec: h.rec, next: h.next.WithAttrs(attrs)}
}

func (h recordingHandler) WithGroup(name string) slog.Handler {
	return recordingHandler{rec: h.rec, next: h.next.WithGroup(name)}
}
