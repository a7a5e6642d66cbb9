package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/internal/retry"
)

// Config configures a Relay. Zero fields take the documented defaults.
type Config struct {
	// Brokers are Kafka bootstrap addresses. Required.
	Brokers []string
	// Transport carries the writer's and topic creation's requests, with
	// the link's TLS and SASL (kafkaconn.New). Default kafka.DefaultTransport
	// (plaintext, no credentials).
	Transport kafka.RoundTripper
	// Topic receives the events. Default "broadcast_messages".
	Topic string
	// Partitions is the partition count used when the topic is created.
	// Default 6.
	Partitions int
	// ReplicationFactor is used when the topic is created. Default 1; use 3
	// on a production cluster.
	ReplicationFactor int
	// BatchSize is the most rows claimed and written at once. Default 500.
	BatchSize int
	// PollInterval bounds how long the relay sleeps when idle; it is woken
	// sooner by a PostgreSQL notification on every new event. Default 1s.
	PollInterval time.Duration
	// Logger receives the relay's logs. Default slog.Default().
	Logger *slog.Logger
}

// MaxMessageBytes is the largest event the topic accepts (its
// max.message.bytes): a SELECTED broadcast may carry 10,000 target ids.
const MaxMessageBytes = 4 << 20

func (c *Config) setDefaults() error {
	if len(c.Brokers) == 0 {
		return errors.New("outbox relay: no Kafka brokers configured (KAFKA_BROKERS)")
	}
	if c.Topic == "" {
		c.Topic = "broadcast_messages"
	}
	if c.Partitions <= 0 {
		c.Partitions = 6
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = 1
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Relay moves outbox rows to Kafka.
type Relay struct {
	pool   *pgxpool.Pool
	writer *kafka.Writer
	cfg    Config
	log    *slog.Logger
}

// New returns a Relay reading pool's outbox. It does not contact Kafka until
// EnsureTopic or Run.
func New(pool *pgxpool.Pool, cfg Config) (*Relay, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	w := &kafka.Writer{
		Addr:      kafka.TCP(cfg.Brokers...),
		Topic:     cfg.Topic,
		Transport: cfg.Transport,
		// The same partitioner as Java clients, so any producer keying by
		// broadcast id lands on the same partition.
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    cfg.BatchSize,
		BatchBytes:   MaxMessageBytes,
		// A claimed batch is written at once; do not wait to fill it.
		BatchTimeout: time.Millisecond,
		WriteTimeout: 10 * time.Second,
		MaxAttempts:  3,
	}
	return &Relay{pool: pool, writer: w, cfg: cfg, log: cfg.Logger.With("component", "relay")}, nil
}

// Close flushes and closes the Kafka writer.
func (r *Relay) Close() error { return r.writer.Close() }

// EnsureTopic creates the topic when it is missing, retrying until Kafka
// answers or ctx ends.
func (r *Relay) EnsureTopic(ctx context.Context) error {
	client := &kafka.Client{Addr: kafka.TCP(r.cfg.Brokers...), Timeout: 10 * time.Second, Transport: r.cfg.Transport}
	for attempt := 1; ; attempt++ {
		err := r.createTopic(ctx, client)
		if err == nil {
			return nil
		}
		r.log.Warn("Kafka not ready to create the topic; retrying", "topic", r.cfg.Topic, "attempt", attempt, "error", err)
		if !retry.Wait(ctx, attempt) {
			return fmt.Errorf("create topic %s: %w", r.cfg.Topic, err)
		}
	}
}

func (r *Relay) createTopic(ctx context.Context, client *kafka.Client) error {
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic:             r.cfg.Topic,
		NumPartitions:     r.cfg.Partitions,
		ReplicationFactor: r.cfg.ReplicationFactor,
		ConfigEntries: []kafka.ConfigEntry{
			{ConfigName: "max.message.bytes", ConfigValue: fmt.Sprint(MaxMessageBytes)},
		},
	}}})
	if err != nil {
		return err
	}
	switch err := resp.Errors[r.cfg.Topic]; {
	case err == nil:
		r.log.Info("Created Kafka topic", "topic", r.cfg.Topic, "partitions", r.cfg.Partitions, "replication_factor", r.cfg.ReplicationFactor)
		return nil
	case errors.Is(err, kafka.TopicAlreadyExists):
		return nil
	default:
		return err
	}
}
