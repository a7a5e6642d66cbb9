package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/kafkatopic"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/retry"
	"github.com/crier/crier/internal/tracing"
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
}

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
		events := t.decode(batch)
		if !t.persist(ctx, batch, events) {
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

// persist records a consumed batch, retrying until it is written; false when
// ctx ends first.
func (t *Tail) persist(ctx context.Context, batch []kafka.Message, events []Event) bool {
	for attempt := 1; ; attempt++ {
		err := t.record(ctx, batch, events)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		t.log.Error("Writing consumed events to stream_events failed; retrying", "attempt", attempt, "error", err)
		if !retry.Wait(ctx, attempt) {
			return false
		}
	}
}

func (t *Tail) read(ctx context.Context, r *kafka.Reader, out chan<- kafka.Message) {
	// No consumer group: closing commits nothing, so its error loses nothing.
	defer func() { _ = r.Close() }()
	for {
		m, err := r.ReadMessage(ctx) // no group: nothing is committed
		if err != nil {
			if ctx.Err() == nil {
				t.log.Error("Reading a partition failed", "error", err)
			}
			return
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

// decode parses each message; one that is not a lifecycle event is logged and
// skipped (its position still counts as consumed).
func (t *Tail) decode(batch []kafka.Message) []Event {
	events := make([]Event, 0, len(batch))
	for _, m := range batch {
		var ev broadcast.Event
		if err := json.Unmarshal(m.Value, &ev); err != nil || ev.EventID == uuid.Nil {
			t.log.Error("Skipping a message that is not a lifecycle event", "partition", m.Partition, "offset", m.Offset, "error", err)
			t.hub.skip(m.Partition, m.Offset)
			continue
		}
		if !t.seen.add(ev.EventID) {
			t.hub.skip(m.Partition, m.Offset) // a duplicate: its position counts, its event does not
			continue
		}
		if ev.EventType == broadcast.EventRead {
			ev.Broadcast = broadcast.Broadcast{} // an older relay's snapshot: neither held nor logged
		}
		events = append(events, Event{Partition: m.Partition, Offset: m.Offset, Value: ev, Trace: tracing.FromKafka(m.Headers)})
	}
	return events
}

// record writes the batch's events to stream_events, each as consumed but a
// read receipt, logged with ids only; rows another node wrote first are left
// as they are.
func (t *Tail) record(ctx context.Context, batch []kafka.Message, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	var (
		parts    []int32
		offsets  []int64
		ids      []uuid.UUID
		types    []string
		bids     []uuid.UUID
		users    []*string
		occurred []time.Time
		payloads []string
	)
	values := make(map[[2]int64][]byte, len(batch))
	for _, m := range batch {
		values[[2]int64{int64(m.Partition), m.Offset}] = m.Value
	}
	for _, ev := range events {
		parts = append(parts, int32(ev.Partition)) //nolint:gosec // Kafka numbers partitions with an int32: kafka-go's int holds one
		offsets = append(offsets, ev.Offset)
		ids = append(ids, ev.Value.EventID)
		types = append(types, string(ev.Value.EventType))
		bids = append(bids, ev.Value.BroadcastID)
		var user *string
		if ev.Value.UserID != "" {
			u := ev.Value.UserID
			user = &u
		}
		users = append(users, user)
		occurred = append(occurred, ev.Value.OccurredAt)
		payload := values[[2]int64{int64(ev.Partition), ev.Offset}]
		if ev.Value.EventType == broadcast.EventRead {
			var err error
			if payload, err = json.Marshal(ev.Value); err != nil {
				return fmt.Errorf("encode read event %s: %w", ev.Value.EventID, err)
			}
		}
		payloads = append(payloads, string(payload))
	}
	_, err := t.pool.Exec(ctx, `
		INSERT INTO stream_events (kafka_partition, kafka_offset, event_id, event_type, broadcast_id, user_id, occurred_at, payload)
		SELECT * FROM unnest($1::int[], $2::bigint[], $3::uuid[], $4::text[], $5::uuid[], $6::text[], $7::timestamptz[], $8::json[])
		ON CONFLICT DO NOTHING`, parts, offsets, ids, types, bids, users, occurred, payloads)
	return err
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
