package stream

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/kafkatopic"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/retry"
)

// TailConfig configures a Tail.
type TailConfig struct {
	// Brokers are Kafka bootstrap addresses. Required.
	Brokers []string
	// Dialer connects to the brokers with the link's TLS and SASL
	// (kafkaconn.New). Default kafka.DefaultDialer (plaintext, no credentials).
	Dialer *kafka.Dialer
	// Topic carries the lifecycle events. Default "broadcast_messages".
	Topic string
	// OnEvent is called with every consumed event before it is dispatched
	// (the inbox cache applies it there).
	OnEvent func(broadcast.Event)
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// DeadLetters is what happens to a message the tail cannot log: retried
	// a bounded number of times, then dead-lettered, so the partitions keep
	// flowing (deadletter.NewPolicy for consumer Consumer). Required by Run.
	DeadLetters *deadletter.Policy
}

// Consumer is the tail's name in dead letters: every API node's tail is one
// consumer, so a message each node dead-letters is one dead letter.
const Consumer = "stream-tail"

// Tail reads every partition of the topic on this node (no consumer group:
// every node sees every event), writes each event to stream_events, then
// dispatches it to the hub.
type Tail struct {
	pool *pgxpool.Pool
	hub  *Hub
	cfg  TailConfig
	log  *slog.Logger
	// seen drops events delivered twice (the relay is at least once).
	seen *recentIDs
	// lag is each partition's distance from its end, as last read.
	lag sync.Map // partition → int64
}

// NewTail returns a Tail feeding hub.
func NewTail(pool *pgxpool.Pool, hub *Hub, cfg TailConfig) *Tail {
	if cfg.Topic == "" {
		cfg.Topic = "broadcast_messages"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(broadcast.Event) {}
	}
	if cfg.Dialer == nil {
		cfg.Dialer = kafka.DefaultDialer
	}
	return &Tail{pool: pool, hub: hub, cfg: cfg, log: cfg.Logger.With("component", "stream-tail"), seen: newRecentIDs(1 << 16)}
}

// Run consumes until ctx ends. Each partition resumes after the newest event
// stream_events holds or the Pruner deleted for it (written by any node), so
// events produced while every node was down are still logged and
// replayable; a partition never logged starts at its beginning (a new
// deployment logs the retained history once).
func (t *Tail) Run(ctx context.Context) error {
	if t.cfg.DeadLetters == nil || t.cfg.DeadLetters.Consumer() != Consumer {
		return fmt.Errorf("stream tail: no dead-letter policy for consumer %q", Consumer)
	}
	partitions, start, ok := t.locate(ctx)
	if !ok {
		return nil
	}
	pos := make(Position, len(partitions))
	for p := range pos {
		pos[p] = start[p] - 1
	}
	t.hub.start(pos)
	t.log.Info("Stream tail started", "topic", t.cfg.Topic, "partitions", len(partitions), "position", pos.String())

	msgs := make(chan kafka.Message, 1024)
	for _, p := range partitions {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: t.cfg.Brokers, Topic: t.cfg.Topic, Partition: p.ID, Dialer: t.cfg.Dialer,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 50 * time.Millisecond,
		})
		if err := r.SetOffset(start[p.ID]); err != nil {
			return fmt.Errorf("seek partition %d: %w", p.ID, err)
		}
		go t.read(ctx, r, msgs)
	}
	for {
		batch, ok := collect(ctx, msgs, 500)
		if !ok {
			return nil
		}
		events, ok := t.handle(ctx, batch)
		if !ok {
			return nil
		}
		for _, ev := range events {
			t.cfg.OnEvent(ev.Value)
		}
		t.hub.Dispatch(events)
		var lag int64
		t.lag.Range(func(_, v any) bool { lag += v.(int64); return true })
		metrics.ConsumerLag.WithLabelValues("stream-tail").Set(float64(lag))
	}
}

// locate finds the topic's partitions and where to start reading each,
// retrying while their leaders are not yet known; false when ctx ends first.
func (t *Tail) locate(ctx context.Context) ([]kafka.Partition, map[int]int64, bool) {
	for attempt := 1; ; attempt++ {
		partitions, err := kafkatopic.Partitions(ctx, t.cfg.Dialer, t.cfg.Brokers, t.cfg.Topic, t.log)
		if err != nil {
			return nil, nil, false // it fails only when ctx ends
		}
		start, err := t.startOffsets(ctx, partitions)
		if err == nil {
			return partitions, start, true
		}
		// A new topic's partitions may have no leader for a moment.
		t.log.Warn("Could not find where to start reading; retrying", "attempt", attempt, "error", err)
		if !retry.Wait(ctx, attempt) {
			return nil, nil, false
		}
	}
}

func (t *Tail) read(ctx context.Context, r *kafka.Reader, out chan<- kafka.Message) {
	// No consumer group: closing commits nothing, so its error loses nothing.
	defer func() { _ = r.Close() }()
	for failures := 0; ; {
		m, err := r.ReadMessage(ctx) // no group: nothing is committed
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The reader goes on trying its broker (a leader moved, a broker
			// is down) and says so here: this partition must be read again
			// once it is back, never left behind.
			failures++
			if failures == 1 || failures%10 == 0 {
				t.log.Warn("Reading a partition failed; retrying", "partition", r.Config().Partition, "error", err, "failures", failures)
			}
			if !retry.Wait(ctx, failures) {
				return
			}
			continue
		}
		if failures > 0 {
			t.log.Info("Reading a partition again", "partition", m.Partition, "after_failures", failures)
			failures = 0
		}
		t.lag.Store(m.Partition, max(0, m.HighWaterMark-m.Offset-1))
		select {
		case out <- m:
		case <-ctx.Done():
			return
		}
	}
}

// collect waits for one message, then takes whatever else is already queued,
// up to limit.
func collect(ctx context.Context, msgs <-chan kafka.Message, limit int) ([]kafka.Message, bool) {
	var batch []kafka.Message
	select {
	case m := <-msgs:
		batch = append(batch, m)
	case <-ctx.Done():
		return nil, false
	}
	for len(batch) < limit {
		select {
		case m := <-msgs:
			batch = append(batch, m)
		default:
			return batch, true
		}
	}
	return batch, true
}

// startOffsets picks, per partition, the offset after the newest logged (or
// pruned) event, or the partition's first retained offset when none ever was.
func (t *Tail) startOffsets(ctx context.Context, partitions []kafka.Partition) (map[int]int64, error) {
	logged := map[int]int64{}
	rows, err := t.pool.Query(ctx, `
		SELECT kafka_partition, max(kafka_offset) FROM (
			SELECT kafka_partition, max(kafka_offset) AS kafka_offset FROM stream_events GROUP BY kafka_partition
			UNION ALL
			SELECT kafka_partition, through_offset FROM stream_events_pruned) logged
		GROUP BY kafka_partition`)
	if err != nil {
		return nil, fmt.Errorf("read logged positions: %w", err)
	}
	for rows.Next() {
		var (
			p   int
			off int64
		)
		if err := rows.Scan(&p, &off); err != nil {
			rows.Close()
			return nil, err
		}
		logged[p] = off
	}
	rows.Close()
	start := map[int]int64{}
	for _, p := range partitions {
		if off, ok := logged[p.ID]; ok {
			start[p.ID] = off + 1
			continue
		}
		conn, err := t.cfg.Dialer.DialLeader(ctx, "tcp", t.cfg.Brokers[0], t.cfg.Topic, p.ID)
		if err != nil {
			return nil, fmt.Errorf("find the start of partition %d: %w", p.ID, err)
		}
		first, err := conn.ReadFirstOffset()
		_ = conn.Close() // a lookup's connection: it wrote nothing a failed close could lose
		if err != nil {
			return nil, fmt.Errorf("find the start of partition %d: %w", p.ID, err)
		}
		start[p.ID] = first
	}
	return start, nil
}
