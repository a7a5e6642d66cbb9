// Package deadlettertest gives a consumer's tests a dead-letter topic of
// their own on the test Kafka, the policy to hand the consumer, and ways to
// read back what it dead-lettered, from the topic and the table.
package deadlettertest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/retry"
	"github.com/crier/crier/internal/testenv"
)

// Env is one test's dead letters: a topic of its own (one partition) and
// the writer and store on the test's database.
type Env struct {
	Topic   string
	Writer  *deadletter.Writer
	Store   *deadletter.Store
	brokers []string
	pool    *pgxpool.Pool
	logger  *slog.Logger
}

// New creates the dead-letter topic and returns the test's Env.
func New(t *testing.T, pool *pgxpool.Pool, brokers []string, logger *slog.Logger) *Env {
	t.Helper()
	topic := testenv.Name("crier-dead-letters-test")
	w, err := deadletter.NewWriter(pool, deadletter.WriterConfig{Brokers: brokers, Topic: topic, Partitions: 1, Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, w.EnsureTopic(ctx))
	st, err := deadletter.NewStore(pool, deadletter.StoreConfig{Brokers: brokers, Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &Env{Topic: topic, Writer: w, Store: st, brokers: brokers, pool: pool, logger: logger}
}

// Policy is consumer's policy: Attempts tries, with no wait between them
// (the tests do not wait on the clock).
func (e *Env) Policy(t *testing.T, consumer string, attempts int) *deadletter.Policy {
	t.Helper()
	p, err := deadletter.NewPolicy(e.Writer, deadletter.PolicyConfig{
		Consumer: consumer, Attempts: attempts, Logger: e.logger,
		Backoff: retry.Backoff{Sleep: func(ctx context.Context, _ time.Duration) bool { return ctx.Err() == nil }},
	})
	require.NoError(t, err)
	return p
}

// Letters lists every dead letter in the table, newest first.
func (e *Env) Letters(t *testing.T) []deadletter.Letter {
	t.Helper()
	page, next, err := e.Store.List(context.Background(), deadletter.Filter{Limit: deadletter.MaxLimit})
	require.NoError(t, err)
	require.Empty(t, next)
	return page
}

// WaitLetters waits until the table holds n dead letters and returns them,
// newest first.
func (e *Env) WaitLetters(t *testing.T, n int) []deadletter.Letter {
	t.Helper()
	var page []deadletter.Letter
	testenv.Eventually(t, 30*time.Second, func() error {
		if page = e.Letters(t); len(page) != n {
			return fmt.Errorf("%d dead letters, want %d", len(page), n)
		}
		return nil
	})
	return page
}

// WaitStatus waits until dead letter id stands in status and returns it.
func (e *Env) WaitStatus(t *testing.T, id uuid.UUID, status deadletter.Status) deadletter.Letter {
	t.Helper()
	var l deadletter.Letter
	testenv.Eventually(t, 30*time.Second, func() error {
		var err error
		if l, err = e.Store.Get(context.Background(), id); err == nil && l.Status != status {
			err = fmt.Errorf("dead letter %s is %s (%s), want %s", id, l.Status, l.Error, status)
		}
		return err
	})
	return l
}

// Read reads the first n messages of the dead-letter topic.
func (e *Env) Read(t *testing.T, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.brokers, Topic: e.Topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer func() { _ = r.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs := make([]kafka.Message, 0, n)
	for len(msgs) < n {
		m, err := r.ReadMessage(ctx)
		require.NoError(t, err, "read %d of %d dead letters from %s", len(msgs), n, e.Topic)
		msgs = append(msgs, m)
	}
	return msgs
}

// End is the dead-letter topic's end offset: how many messages it holds.
func (e *Env) End(t *testing.T) int64 {
	t.Helper()
	conn, err := kafka.DialLeader(context.Background(), "tcp", e.brokers[0], e.Topic, 0)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	end, err := conn.ReadLastOffset()
	require.NoError(t, err)
	return end
}

// Header is msg's header key, or "" when it has none.
func Header(msg kafka.Message, key string) string {
	for _, h := range msg.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
