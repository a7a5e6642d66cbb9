package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
)

// PollerConfig configures the poller baseline.
type PollerConfig struct {
	// DatabaseURL is the baseline's own (migrated) database. Required.
	DatabaseURL string
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// Topic is the baseline's own. Required.
	Topic string
	// Interval is the polling period. Default 60 s, as the seed's
	// @Scheduled(fixedRate = 60000).
	Interval time.Duration
	// Phase returns how long after the due time the first poll runs.
	// Default: uniform in [0, Interval), as a poller that was started at an
	// arbitrary moment relative to the broadcasts' time.
	Phase func() time.Duration
	// Logger receives the poller's logs. Default slog.Default().
	Logger *slog.Logger
}

// Poller is the seed's scheduler: every Interval, select the SCHEDULED
// broadcasts whose time has come and, one by one, claim each (the seed set
// IN_PROGRESS, a status Crier no longer has: the claim keeps its round trip),
// send it to Kafka, mark it SENT. It exists only as the benchmark's baseline.
type Poller struct {
	cfg     PollerConfig
	pool    *pgxpool.Pool
	creator *pgxpool.Pool
	store   *store.Store
	writer  *kafka.Writer
	// sendErrors counts messages Kafka did not take (the seed logs them).
	sendErrors atomic.Int64
}

// StartPoller connects the poller; it polls once Armed.
func StartPoller(ctx context.Context, cfg PollerConfig) (*Poller, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Poller{cfg: cfg}
	var err error
	if p.pool, err = store.Connect(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	creatorURL, err := WithPoolSize(cfg.DatabaseURL, creators+4)
	if err == nil {
		p.creator, err = store.Connect(ctx, creatorURL)
	}
	if err != nil {
		p.pool.Close()
		return nil, err
	}
	p.store = store.New(p.creator)
	// KafkaTemplate.send is asynchronous and the seed never waits on its
	// future; the Java producer batches what queues up (linger.ms 5 in
	// Kafka 4 clients) with acks=all.
	p.writer = &kafka.Writer{
		Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.Topic,
		Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll,
		Async: true, BatchTimeout: 5 * time.Millisecond, WriteTimeout: 10 * time.Second,
		Completion: func(msgs []kafka.Message, err error) {
			if err != nil {
				p.sendErrors.Add(int64(len(msgs)))
				p.cfg.Logger.Error("Poller: Kafka did not take messages", "messages", len(msgs), "error", err)
			}
		},
	}
	return p, nil
}

// Name implements System.
func (p *Poller) Name() string { return fmt.Sprintf("%g s poller", p.cfg.Interval.Seconds()) }

// Topic implements System.
func (p *Poller) Topic() string { return p.cfg.Topic }

// Create implements System: it empties the poller's table of earlier
// scenarios' broadcasts, then inserts these as SCHEDULED rows.
func (p *Poller) Create(ctx context.Context, bs []broadcast.Broadcast) error {
	if _, err := p.creator.Exec(ctx, "TRUNCATE broadcasts, outbox CASCADE"); err != nil {
		return fmt.Errorf("empty the poller's tables: %w", err)
	}
	return insertAll(ctx, p.store, bs, nil)
}

// Arm implements System: the first poll runs Phase() after due, then one
// every Interval (a late poll is followed at once by the next, as Spring's
// fixedRate does), until ctx ends.
func (p *Poller) Arm(ctx context.Context, due time.Time) time.Duration {
	phase := p.cfg.Interval / 2
	if p.cfg.Phase != nil {
		phase = p.cfg.Phase()
	}
	go func() {
		next := due.Add(phase)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(next)):
			}
			if err := p.poll(ctx); err != nil && ctx.Err() == nil {
				p.cfg.Logger.Error("Poller: poll failed", "error", err)
			}
			next = next.Add(p.cfg.Interval)
		}
	}()
	return phase
}

func (p *Poller) poll(ctx context.Context) error {
	rows, err := p.pool.Query(ctx, `SELECT `+store.Columns+` FROM broadcasts
		WHERE status = 'SCHEDULED' AND scheduled_at <= now()`)
	if err != nil {
		return fmt.Errorf("find due broadcasts: %w", err)
	}
	due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (broadcast.Broadcast, error) { return store.Scan(r) })
	if err != nil {
		return fmt.Errorf("find due broadcasts: %w", err)
	}
	for _, b := range due {
		if err := p.publish(ctx, b); err != nil {
			p.cfg.Logger.Error("Poller: failed to publish", "broadcast_id", b.ID, "error", err)
		}
	}
	return nil
}

func (p *Poller) publish(ctx context.Context, b broadcast.Broadcast) error {
	if _, err := p.pool.Exec(ctx, `UPDATE broadcasts SET updated_at = now() WHERE id = $1`, b.ID); err != nil {
		return err
	}
	b.Status = broadcast.StatusSent
	eventID := uuid.New()
	value, err := json.Marshal(broadcast.Event{EventID: eventID, EventType: broadcast.EventPublished,
		BroadcastID: b.ID, OccurredAt: time.Now().UTC(), Broadcast: b})
	if err != nil {
		return err
	}
	if err := p.writer.WriteMessages(ctx, kafka.Message{Key: []byte(b.ID.String()), Value: value, Headers: []kafka.Header{
		{Key: "event_id", Value: []byte(eventID.String())}, {Key: "event_type", Value: []byte(broadcast.EventPublished)},
	}}); err != nil {
		return err
	}
	_, err = p.pool.Exec(ctx, `UPDATE broadcasts SET status = 'SENT', published_at = now(), updated_at = now() WHERE id = $1`, b.ID)
	return err
}

// SendErrors is how many messages Kafka refused so far.
func (p *Poller) SendErrors() int64 { return p.sendErrors.Load() }

// Close flushes and closes the Kafka writer and the pools.
func (p *Poller) Close() error {
	err := p.writer.Close()
	p.creator.Close()
	p.pool.Close()
	return err
}
