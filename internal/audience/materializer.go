package audience

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/kafkatopic"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/retry"
)

// Consumer is the name under which the Materializer records the events it
// applied in processed_events.
const Consumer = "audience"

// MaterializerConfig configures a Materializer. Zero fields take the
// documented defaults.
type MaterializerConfig struct {
	// Brokers are Kafka bootstrap addresses. Required.
	Brokers []string
	// Dialer connects to the brokers with the link's TLS and SASL
	// (kafkaconn.New). Default kafka.DefaultDialer (plaintext, no credentials).
	Dialer *kafka.Dialer
	// Topic carries the broadcast events. Default "broadcast_messages".
	Topic string
	// GroupID is the Kafka consumer group; Materializers sharing it share
	// the topic's partitions. Default "crier-audience".
	GroupID string
	// BatchSize is the most events applied in one transaction. Default 100.
	BatchSize int
	// BatchWait is how long to wait for more events once one arrived, to
	// apply a burst together. Default 5ms.
	BatchWait time.Duration
	// Logger receives the Materializer's logs. Default slog.Default().
	Logger *slog.Logger
	// DeadLetters is what happens to a message the Materializer cannot
	// apply: retried a bounded number of times, then dead-lettered, so its
	// partition keeps flowing (deadletter.NewPolicy for consumer Consumer).
	// Required.
	DeadLetters *deadletter.Policy
}

// maxBatchIDs bounds the SELECTED ids of one batch, so a burst of large
// broadcasts is not one huge transaction.
const maxBatchIDs = 20_000

func (c *MaterializerConfig) setDefaults() error {
	if len(c.Brokers) == 0 {
		return errors.New("audience materializer: no Kafka brokers configured (KAFKA_BROKERS)")
	}
	if c.Topic == "" {
		c.Topic = "broadcast_messages"
	}
	if c.GroupID == "" {
		c.GroupID = "crier-audience"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.BatchWait <= 0 {
		c.BatchWait = 5 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Dialer == nil {
		c.Dialer = kafka.DefaultDialer
	}
	if c.DeadLetters == nil || c.DeadLetters.Consumer() != Consumer {
		return fmt.Errorf("audience materializer: no dead-letter policy for consumer %q", Consumer)
	}
	return nil
}

// Materializer consumes broadcast events and, for each publication, fixes
// the broadcast's targeted count and creates the PENDING delivery rows of a
// SELECTED target. Each batch of events is applied in one PostgreSQL
// transaction that also records their ids in processed_events, so a
// redelivered event is dropped; offsets are committed to Kafka only after
// that transaction committed, so a crash redelivers rather than loses.
type Materializer struct {
	pool *pgxpool.Pool
	cfg  MaterializerConfig
	log  *slog.Logger
	// lag is each partition's distance from its end, as last fetched.
	lag sync.Map // partition → int64
}

// NewMaterializer returns a Materializer writing to pool. It does not
// contact Kafka until Run.
func NewMaterializer(pool *pgxpool.Pool, cfg MaterializerConfig) (*Materializer, error) {
	if pool == nil {
		return nil, errors.New("audience materializer: no PostgreSQL pool")
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Materializer{pool: pool, cfg: cfg, log: cfg.Logger.With("component", "audience", "group", cfg.GroupID)}, nil
}

// Run consumes until ctx ends, then leaves the consumer group and returns
// nil. PostgreSQL or Kafka being down only delays it: it retries with
// backoff and never commits past an event it has not applied.
func (m *Materializer) Run(ctx context.Context) error {
	// Joining the group before the topic exists would leave this consumer
	// without partitions until kafka-go's next metadata check.
	if _, err := kafkatopic.Partitions(ctx, m.cfg.Dialer, m.cfg.Brokers, m.cfg.Topic, m.log); err != nil {
		return nil // ctx ended
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: m.cfg.Brokers, Topic: m.cfg.Topic, GroupID: m.cfg.GroupID, Dialer: m.cfg.Dialer,
		// A new group starts at the oldest retained event, so no publication
		// is missed; processed_events drops what was already applied.
		StartOffset: kafka.FirstOffset,
		MinBytes:    1,
		// Above the topic's largest message (a SELECTED target of 10,000 ids).
		MaxBytes: 16 << 20,
		MaxWait:  500 * time.Millisecond,
		// Zero: CommitMessages commits synchronously, after the effects.
		CommitInterval:        0,
		WatchPartitionChanges: true,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			m.log.Warn("Kafka consumer: " + fmt.Sprintf(msg, args...))
		}),
	})
	defer func() {
		if err := r.Close(); err != nil {
			m.log.Warn("Closing the Kafka consumer failed", "error", err)
		}
	}()
	m.log.Info("Audience materializer started", "topic", m.cfg.Topic)
	for failures := 0; ; {
		batch, err := m.fetch(ctx, r)
		switch {
		case ctx.Err() != nil:
			m.log.Info("Audience materializer stopped")
			return nil
		case err != nil && len(batch) == 0:
			failures++
			m.log.Error("Fetching events failed; will retry", "attempt", failures, "error", err)
			if !retry.Wait(ctx, failures) {
				return nil
			}
			continue
		}
		failures = 0
		if !m.applyUntilDone(ctx, batch) {
			m.log.Info("Audience materializer stopped")
			return nil
		}
		m.commit(ctx, r, batch)
	}
}

// message is one fetched Kafka message and its decoded event; bad says why
// it could not be decoded (a permanent failure), other that it is a redrive
// meant for another consumer (skipped).
type message struct {
	msg   kafka.Message
	event broadcast.Event
	bad   error
	other bool
}

// fetch blocks for one message, then takes whatever else arrives within
// BatchWait, up to BatchSize messages and maxBatchIDs target ids.
func (m *Materializer) fetch(ctx context.Context, r *kafka.Reader) ([]message, error) {
	first, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	batch := []message{m.decode(first)}
	ids := len(batch[0].event.Broadcast.Target.IDs)
	wait, cancel := context.WithTimeout(ctx, m.cfg.BatchWait)
	defer cancel()
	for len(batch) < m.cfg.BatchSize && ids < maxBatchIDs {
		msg, err := r.FetchMessage(wait)
		if err != nil {
			break // nothing more within BatchWait, or an error the next fetch reports
		}
		next := m.decode(msg)
		batch = append(batch, next)
		ids += len(next.event.Broadcast.Target.IDs)
	}
	var lag int64
	m.lag.Range(func(_, v any) bool { lag += v.(int64); return true })
	metrics.ConsumerLag.WithLabelValues(m.cfg.GroupID).Set(float64(lag))
	return batch, nil
}

// decode reads a message's event. A message that is not an event the
// Materializer knows can never be applied: bad says why, and the message is
// dead-lettered (applyUntilDone) so it cannot wedge its partition.
func (m *Materializer) decode(msg kafka.Message) message {
	m.lag.Store(msg.Partition, max(0, msg.HighWaterMark-msg.Offset-1))
	out := message{msg: msg, other: deadletter.ForAnother(msg, Consumer)}
	if out.other {
		return out
	}
	err := json.Unmarshal(msg.Value, &out.event)
	switch {
	case err != nil:
		out.bad = deadletter.Permanent(deadletter.ReasonUndecodable, fmt.Errorf("the value is not a broadcast event: %w", err))
	case out.event.EventID == uuid.Nil:
		out.bad = deadletter.Permanent(deadletter.ReasonInvalid, errors.New("event has no event_id"))
	case out.event.BroadcastID == uuid.Nil:
		out.bad = deadletter.Permanent(deadletter.ReasonInvalid, errors.New("event has no broadcast_id"))
	case out.event.EventType == "":
		out.bad = deadletter.Permanent(deadletter.ReasonInvalid, errors.New("event has no event_type"))
	case !out.event.EventType.Known():
		out.bad = deadletter.Permanent(deadletter.ReasonUnknownType, fmt.Errorf("event_type %s is not one of %v",
			broadcast.Quote(string(out.event.EventType)), broadcast.EventTypes))
	}
	return out
}

// commit commits the batch's offsets, even while shutting down: its effects
// are committed already. A failed commit only means redelivery, and the
// redelivered events are dropped as duplicates.
func (m *Materializer) commit(ctx context.Context, r *kafka.Reader, batch []message) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	msgs := make([]kafka.Message, len(batch))
	for i, b := range batch {
		msgs[i] = b.msg
	}
	if err := r.CommitMessages(ctx, msgs...); err != nil {
		m.log.Warn("Committing offsets failed; the events will be redelivered and dropped as duplicates", "error", err)
	}
}
