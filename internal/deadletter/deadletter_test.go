package deadletter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/deadletter/deadlettertest"
	"github.com/crier/crier/internal/testenv"
)

var admin = audit.Origin{Actor: audit.Actor{ID: "ada", Name: "Ada", Roles: []string{"admin"}}, RequestID: "req-1"}

// bundle is a dead-letter topic and table, and a policy that fails every
// message of its consumer.
type bundle struct {
	ctx  context.Context
	dead *deadlettertest.Env
	// topic is the "source" topic messages claim to come from, so redrives
	// have somewhere to go.
	topic   string
	brokers []string
	pool    *pgxpool.Pool
}

func setup(t *testing.T) *bundle {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	pool := testenv.Pool(t)
	topic := testenv.Name("dead-letter-source")
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	_, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}})
	require.NoError(t, err)
	return &bundle{ctx: context.Background(), dead: deadlettertest.New(t, pool, brokers, testenv.Logger(t)), topic: topic, brokers: brokers, pool: pool}
}

// fail dead-letters msg for consumer, as a consumer whose every attempt
// fails for good would.
func (b *bundle) fail(t *testing.T, consumer string, msg kafka.Message) {
	t.Helper()
	calls := 0
	require.True(t, b.dead.Policy(t, consumer, 2).Process(b.ctx, msg, func(context.Context) error {
		calls++
		return deadletter.Permanent(deadletter.ReasonUndecodable, errors.New("not an event"))
	}))
	require.Equal(t, 2, calls, "tried Attempts times")
}

func (b *bundle) message(offset int64, value string) kafka.Message {
	return kafka.Message{Topic: b.topic, Partition: 0, Offset: offset, Key: []byte("k"), Value: []byte(value),
		Headers: []kafka.Header{{Key: "event_id", Value: []byte("e-1")}}}
}

// Several nodes dead-lettering one message make one dead letter; the topic
// has each node's copy.
func TestOneDeadLetterPerConsumerAndPosition(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := b.message(7, "not JSON")
	b.fail(t, "stream-tail", msg)
	b.fail(t, "stream-tail", msg)
	b.fail(t, "audience", msg)

	letters := b.dead.Letters(t)
	require.Len(t, letters, 2, "one per consumer")
	require.Equal(t, int64(3), b.dead.End(t), "each write reached the topic")
	got, err := b.dead.Store.Get(b.ctx, deadletter.ID("stream-tail", b.topic, 0, 7))
	require.NoError(t, err)
	require.Equal(t, deadletter.StatusPending, got.Status)
	require.Equal(t, 2, got.Attempts)
	require.Equal(t, &deadletter.Message{Encoding: "utf-8", Key: "k", Value: "not JSON",
		Headers: []deadletter.Header{{Key: "event_id", Value: "e-1"}}}, got.Message)
	counts, err := deadletter.CountUnresolved(b.ctx, b.dead.Store.Pool())
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"stream-tail": 1, "audience": 1}, counts)
}

// A value that is not text is shown as base64.
func TestBinaryMessagesAreBase64(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := b.message(1, "\xff\xfe")
	b.fail(t, "audience", msg)
	got, err := b.dead.Store.Get(b.ctx, deadletter.ID("audience", b.topic, 0, 1))
	require.NoError(t, err)
	require.Equal(t, "base64", got.Message.Encoding)
	require.Equal(t, "//4=", got.Message.Value)
	require.Equal(t, "aw==", got.Message.Key)
}

// List pages newest first and filters by consumer and status.
func TestListPagesAndFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for off := int64(0); off < 5; off++ {
		b.fail(t, "audience", b.message(off, "bad"))
	}
	b.fail(t, "stream-tail", b.message(9, "bad"))
	dropped, err := b.dead.Store.Drop(b.ctx, admin, deadletter.ID("audience", b.topic, 0, 0))
	require.NoError(t, err)
	require.Equal(t, deadletter.StatusDropped, dropped.Status)

	var all []deadletter.Letter
	f := deadletter.Filter{Consumer: "audience", Limit: 2}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		page, next, err := b.dead.Store.List(b.ctx, f)
		require.NoError(t, err)
		all = append(all, page...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	require.Len(t, all, 5)
	for i := 1; i < len(all); i++ {
		require.False(t, all[i].CreatedAt.After(all[i-1].CreatedAt), "newest first")
		require.Nil(t, all[i].Message, "a list leaves the messages out")
	}
	pending, _, err := b.dead.Store.List(b.ctx, deadletter.Filter{Consumer: "audience", Statuses: []deadletter.Status{deadletter.StatusPending}})
	require.NoError(t, err)
	require.Len(t, pending, 4)
	_, _, err = b.dead.Store.List(b.ctx, deadletter.Filter{Cursor: "bad"})
	require.ErrorIs(t, err, deadletter.ErrBadCursor)
}

// Drop keeps the dead letter, DROPPED, audited; dropping again changes
// nothing; what is not PENDING or FAILED is not dropped or redriven.
func TestDropAndConflicts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fail(t, "audience", b.message(3, "bad"))
	id := deadletter.ID("audience", b.topic, 0, 3)

	dropped, err := b.dead.Store.Drop(b.ctx, admin, id)
	require.NoError(t, err)
	require.Equal(t, deadletter.StatusDropped, dropped.Status)
	require.NotNil(t, dropped.DroppedAt)
	again, err := b.dead.Store.Drop(b.ctx, admin, id)
	require.NoError(t, err)
	require.Equal(t, dropped, again)
	got, err := b.dead.Store.Redrive(b.ctx, admin, id)
	require.ErrorIs(t, err, deadletter.ErrConflict)
	require.Equal(t, deadletter.StatusDropped, got.Status)
	counts, err := deadletter.CountUnresolved(b.ctx, b.dead.Store.Pool())
	require.NoError(t, err)
	require.Empty(t, counts)

	// Read again (a consumer restarting before it saved its position): the
	// dead letter stays as the admin left it.
	b.fail(t, "audience", b.message(3, "bad"))
	got, err = b.dead.Store.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, deadletter.StatusDropped, got.Status)

	log, err := audit.New(b.dead.Store.Pool())
	require.NoError(t, err)
	entries, _, err := log.List(b.ctx, audit.Filter{TargetType: audit.TargetDeadLetter, TargetID: id.String()})
	require.NoError(t, err)
	require.Len(t, entries, 1, "one drop, one entry")
	require.Equal(t, audit.ActionDeadLetterDrop, entries[0].Action)

	_, err = b.dead.Store.Drop(b.ctx, admin, uuid.New())
	require.ErrorIs(t, err, deadletter.ErrNotFound)
	_, err = b.dead.Store.Redrive(b.ctx, admin, uuid.New())
	require.ErrorIs(t, err, deadletter.ErrNotFound)
}

// A redrive sends the original message back to its topic, for its consumer,
// and marks the dead letter REDRIVING, audited; a second one is refused.
func TestRedriveSendsTheMessageBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fail(t, "audience", b.message(0, "bad"))
	id := deadletter.ID("audience", b.topic, 0, 0)

	l, err := b.dead.Store.Redrive(b.ctx, admin, id)
	require.NoError(t, err)
	require.Equal(t, deadletter.StatusRedriving, l.Status)
	require.Equal(t, 1, l.Redrives)
	_, err = b.dead.Store.Redrive(b.ctx, admin, id)
	require.ErrorIs(t, err, deadletter.ErrConflict, "a redrive in flight is not sent twice")

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.brokers, Topic: b.topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer func() { _ = r.Close() }()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	copied, err := r.ReadMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, "bad", string(copied.Value))
	require.Equal(t, "k", string(copied.Key))
	require.Equal(t, "e-1", deadlettertest.Header(copied, "event_id"))
	redrives, consumer, ok := deadletter.RedriveOf(copied)
	require.True(t, ok)
	require.Equal(t, id, redrives)
	require.Equal(t, "audience", consumer)
	require.True(t, deadletter.ForAnother(copied, "stream-tail"))
	require.False(t, deadletter.ForAnother(copied, "audience"))
}

// A redriven copy can fail again before the redrive's transaction commits
// (it sends the copy first): the dead letter still ends FAILED, not stuck
// REDRIVING (a flaky CI run of internal/audience found the race).
func TestACopyFailingBeforeItsRedriveCommitsEndsFailed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fail(t, "audience", b.message(0, "bad"))
	id := deadletter.ID("audience", b.topic, 0, 0)

	// The redrive's transaction, held open: REDRIVING, not yet committed.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = tx.Exec(b.ctx, `UPDATE dead_letters SET status = 'REDRIVING', redrives = redrives + 1 WHERE id = $1`, id)
	require.NoError(t, err)
	copied := b.message(7, "bad")
	copied.Headers = append(copied.Headers,
		kafka.Header{Key: deadletter.HeaderRedriveOf, Value: []byte(id.String())},
		kafka.Header{Key: deadletter.HeaderRedriveFor, Value: []byte("audience")})
	policy := b.dead.Policy(t, "audience", 2)
	handled := make(chan bool)
	go func() {
		handled <- policy.Process(b.ctx, copied, func(context.Context) error {
			return deadletter.Permanent(deadletter.ReasonUndecodable, errors.New("not an event"))
		})
	}()
	time.Sleep(300 * time.Millisecond) // the copy's failure waits on the row
	require.NoError(t, tx.Commit(b.ctx))
	require.True(t, <-handled)

	l := b.dead.WaitStatus(t, id, deadletter.StatusFailed)
	require.Equal(t, 1, l.Redrives)
	require.Len(t, b.dead.Letters(t), 1, "recorded on its dead letter, not as a new one")
}
