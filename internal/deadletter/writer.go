package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/internal/kafkatopic"
	"github.com/crier/crier/internal/metrics"
)

// maxMessageBytes is the dead-letter topic's max.message.bytes: the main
// topic's largest message (a SELECTED target of 10,000 ids) and the headers
// a dead letter adds.
const maxMessageBytes = 5 << 20

// WriterConfig configures a Writer. Zero fields take the documented
// defaults.
type WriterConfig struct {
	// Brokers are Kafka bootstrap addresses. Required.
	Brokers []string
	// Transport carries the writer's and topic creation's requests, with
	// the link's TLS and SASL (kafkaconn.New). Default kafka.DefaultTransport.
	Transport kafka.RoundTripper
	// Topic is the dead-letter topic (CRIER_KAFKA_DEAD_LETTER_TOPIC).
	// Default DefaultTopic.
	Topic string
	// Partitions and ReplicationFactor are used when the topic is created,
	// as for the main topic. Defaults 6 and 1.
	Partitions        int
	ReplicationFactor int
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Writer writes dead letters: to the dead-letter topic, then to the
// dead_letters table. The topic is the durable record (every dead letter,
// the message as it was, with why); the table is what admins work on. A
// consumer moves past a message only once both are written, so a crash in
// between writes the message again on restart: the topic may then hold it
// twice (at least once, as everywhere), the table once.
type Writer struct {
	pool *pgxpool.Pool
	w    *kafka.Writer
	cfg  WriterConfig
	log  *slog.Logger
}

// NewWriter returns a Writer on pool. It does not contact Kafka until
// EnsureTopic or a write.
func NewWriter(pool *pgxpool.Pool, cfg WriterConfig) (*Writer, error) {
	if pool == nil {
		return nil, errors.New("dead-letter writer: no PostgreSQL pool")
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("dead-letter writer: no Kafka brokers configured (KAFKA_BROKERS)")
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 6
	}
	if cfg.ReplicationFactor <= 0 {
		cfg.ReplicationFactor = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &kafka.Writer{
		Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.Topic, Transport: cfg.Transport,
		// Keyed as the original (by broadcast), so a broadcast's dead
		// letters stay in order on one partition.
		Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll,
		BatchBytes: maxMessageBytes, BatchTimeout: time.Millisecond, WriteTimeout: 10 * time.Second, MaxAttempts: 3,
	}
	return &Writer{pool: pool, w: w, cfg: cfg, log: cfg.Logger.With("component", "dead-letters")}, nil
}

// Topic is the dead-letter topic.
func (w *Writer) Topic() string { return w.cfg.Topic }

// Close flushes and closes the Kafka writer.
func (w *Writer) Close() error { return w.w.Close() }

// EnsureTopic creates the dead-letter topic when it is missing, as the relay
// creates the main topic, retrying until Kafka answers or ctx ends.
func (w *Writer) EnsureTopic(ctx context.Context) error {
	client := &kafka.Client{Addr: kafka.TCP(w.cfg.Brokers...), Timeout: 10 * time.Second, Transport: w.cfg.Transport}
	return kafkatopic.Ensure(ctx, client, kafka.TopicConfig{
		Topic: w.cfg.Topic, NumPartitions: w.cfg.Partitions, ReplicationFactor: w.cfg.ReplicationFactor,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(maxMessageBytes)}},
	}, w.log)
}

// failure is a message a consumer gave up on.
type failure struct {
	consumer string
	msg      kafka.Message
	reason   Reason
	err      error
	attempts int
	at       time.Time
}

// insertSQL records a dead letter once: a row for the same consumer and
// position (another node's, or an earlier run's) is left as it stands.
const insertSQL = `
INSERT INTO dead_letters (id, consumer, topic, kafka_partition, kafka_offset, message_key, message_value, headers,
                          reason, error, attempts, failed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT DO NOTHING`

// failAgainSQL records that the redriven copy of dead letter $1 failed for
// good: from the statuses its transitions allow ($2) to FAILED ($3), with the
// new error.
const failAgainSQL = `
UPDATE dead_letters SET status = $3, reason = $4, error = $5, attempts = attempts + $6, failed_at = $7, updated_at = now()
WHERE id = $1 AND status = ANY($2::text[])`

// write writes f to the dead-letter topic, then to the table: a redriven
// copy that failed again updates its dead letter (FAILED, with the new
// error); any other failure is a dead letter of its own position.
func (w *Writer) write(ctx context.Context, f failure) error {
	id := ID(f.consumer, f.msg.Topic, f.msg.Partition, f.msg.Offset)
	redriveOf, _, redrive := RedriveOf(f.msg)
	if redrive {
		id = redriveOf
	}
	if err := w.w.WriteMessages(ctx, w.letterMessage(id, f)); err != nil {
		return fmt.Errorf("write to the dead-letter topic %s: %w", w.cfg.Topic, err)
	}
	if redrive {
		failed, err := w.failAgain(ctx, id, f)
		if err != nil {
			return fmt.Errorf("record the failed redrive of dead letter %s: %w", id, err)
		}
		if failed {
			return nil
		}
		// Resolved by another node, dropped, or deleted: a dead letter of
		// its own.
		id = ID(f.consumer, f.msg.Topic, f.msg.Partition, f.msg.Offset)
	}
	headers, err := json.Marshal(storedHeaders(original(f.msg.Headers)))
	if err != nil {
		return fmt.Errorf("encode the headers of dead letter %s: %w", id, err)
	}
	if _, err := w.pool.Exec(ctx, insertSQL, id, f.consumer, f.msg.Topic, f.msg.Partition, f.msg.Offset, f.msg.Key, f.msg.Value,
		headers, f.reason, cutError(f.err), f.attempts, f.at); err != nil {
		return fmt.Errorf("record dead letter %s: %w", id, err)
	}
	return nil
}

// failAgain marks dead letter id FAILED after its redriven copy failed. The
// row is locked first: a redrive sends the copy before its transaction
// (which marks the row REDRIVING) commits, and a consumer this fast would
// otherwise read the row as it was (PENDING), skip it, and leave it
// REDRIVING for good. The lock waits for that commit; the update then reads
// the row as it committed.
func (w *Writer) failAgain(ctx context.Context, id uuid.UUID, f failure) (bool, error) {
	var failed bool
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM dead_letters WHERE id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		args := append(append([]any{id}, stepFailAgain.guard()...), f.reason, cutError(f.err), f.attempts, f.at)
		tag, err := tx.Exec(ctx, failAgainSQL, args...)
		failed = err == nil && tag.RowsAffected() > 0
		return err
	})
	return failed, err
}

// letterMessage is f on the dead-letter topic: the original key, value and
// headers, and headers saying who failed it, where, why and when.
func (w *Writer) letterMessage(id uuid.UUID, f failure) kafka.Message {
	hs := append(original(f.msg.Headers),
		kafka.Header{Key: HeaderID, Value: []byte(id.String())},
		kafka.Header{Key: HeaderConsumer, Value: []byte(f.consumer)},
		kafka.Header{Key: HeaderTopic, Value: []byte(f.msg.Topic)},
		kafka.Header{Key: HeaderPartition, Value: []byte(strconv.Itoa(f.msg.Partition))},
		kafka.Header{Key: HeaderOffset, Value: []byte(strconv.FormatInt(f.msg.Offset, 10))},
		kafka.Header{Key: HeaderReason, Value: []byte(f.reason)},
		kafka.Header{Key: HeaderError, Value: []byte(cutError(f.err))},
		kafka.Header{Key: HeaderAttempts, Value: []byte(strconv.Itoa(f.attempts))},
		kafka.Header{Key: HeaderAt, Value: []byte(f.at.UTC().Format(time.RFC3339Nano))},
	)
	return kafka.Message{Key: f.msg.Key, Value: f.msg.Value, Headers: hs}
}

// countWritten counts a written dead letter in crier_dead_letters_total.
func countWritten(f failure) {
	metrics.DeadLetters.WithLabelValues(f.consumer, string(f.reason)).Inc()
}
