package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/retry"
	"github.com/crier/crier/internal/tracing"
)

// item is a consumed message and its event, on its way to stream_events.
type item struct {
	msg kafka.Message
	ev  Event
}

// handle decodes and logs a consumed batch and returns the events to
// dispatch, in order; false when ctx ended first. A duplicate event, or a
// redrive meant for another consumer, is skipped; a message that cannot be
// decoded or logged is retried and dead-lettered by the policy, alone, and
// skipped. A skipped message's position still counts as consumed.
func (t *Tail) handle(ctx context.Context, batch []kafka.Message) ([]Event, bool) {
	items, ok := t.decode(ctx, batch)
	if !ok {
		return nil, false
	}
	if items, ok = t.persist(ctx, items); !ok {
		return nil, false
	}
	events := make([]Event, len(items))
	for i, it := range items {
		t.seen.add(it.ev.Value.EventID) // only once logged: a dead-lettered event's redrive is not a duplicate
		events[i] = it.ev
	}
	return events, true
}

// decodeEvent reads a message's lifecycle event; its error says why it is
// none, as a permanent failure.
func decodeEvent(m kafka.Message) (broadcast.Event, error) {
	var ev broadcast.Event
	if err := json.Unmarshal(m.Value, &ev); err != nil {
		return ev, deadletter.Permanent(deadletter.ReasonUndecodable, fmt.Errorf("the value is not a lifecycle event: %w", err))
	}
	switch {
	case ev.EventID == uuid.Nil:
		return ev, deadletter.Permanent(deadletter.ReasonInvalid, errors.New("event has no event_id"))
	case ev.BroadcastID == uuid.Nil:
		return ev, deadletter.Permanent(deadletter.ReasonInvalid, errors.New("event has no broadcast_id"))
	case !ev.EventType.Known():
		return ev, deadletter.Permanent(deadletter.ReasonUnknownType, fmt.Errorf("event_type %s is not one of %v",
			broadcast.Quote(string(ev.EventType)), broadcast.EventTypes))
	}
	return ev, nil
}

// decode parses each message of the batch into an item to log.
func (t *Tail) decode(ctx context.Context, batch []kafka.Message) ([]item, bool) {
	items := make([]item, 0, len(batch))
	inBatch := make(map[uuid.UUID]bool, len(batch))
	for _, m := range batch {
		if deadletter.ForAnother(m, Consumer) {
			t.hub.skip(m.Partition, m.Offset)
			continue
		}
		ev, err := decodeEvent(m)
		if err != nil {
			decoded := false
			if !t.cfg.DeadLetters.Process(ctx, m, func(context.Context) error {
				ev, err = decodeEvent(m)
				decoded = err == nil
				return err
			}) {
				return nil, false
			}
			if !decoded {
				t.hub.skip(m.Partition, m.Offset)
				continue
			}
		}
		if t.seen.has(ev.EventID) || inBatch[ev.EventID] {
			t.hub.skip(m.Partition, m.Offset) // a duplicate: its position counts, its event does not
			continue
		}
		inBatch[ev.EventID] = true
		if ev.EventType == broadcast.EventRead {
			ev.Broadcast = broadcast.Broadcast{} // an older relay's snapshot: neither held nor logged
		}
		items = append(items, item{msg: m, ev: Event{Partition: m.Partition, Offset: m.Offset, Value: ev, Trace: tracing.FromKafka(m.Headers)}})
	}
	return items, true
}

// persist logs items, retrying transient failures until they are written;
// false when ctx ends first. When PostgreSQL refuses the batch for good,
// each item is logged alone, so only the one at fault is dead-lettered.
func (t *Tail) persist(ctx context.Context, items []item) ([]item, bool) {
	for attempt := 1; ; attempt++ {
		err := deadletter.Protect(func() error { return t.record(ctx, items) })
		_, permanent := deadletter.Classify(err)
		switch {
		case err == nil:
			return items, true
		case ctx.Err() != nil:
			return nil, false
		case permanent:
			return t.persistAlone(ctx, items)
		}
		t.log.Error("Writing consumed events to stream_events failed; retrying", "attempt", attempt, "error", err)
		if !retry.Wait(ctx, attempt) {
			return nil, false
		}
	}
}

// persistAlone logs each item by the dead-letter policy and returns those
// logged; the others were dead-lettered and are skipped.
func (t *Tail) persistAlone(ctx context.Context, items []item) ([]item, bool) {
	kept := items[:0:0]
	for _, it := range items {
		logged := false
		if !t.cfg.DeadLetters.Process(ctx, it.msg, func(ctx context.Context) error {
			err := t.record(ctx, []item{it})
			logged = err == nil
			return err
		}) {
			return nil, false
		}
		if !logged {
			t.hub.skip(it.msg.Partition, it.msg.Offset)
			continue
		}
		kept = append(kept, it)
	}
	return kept, true
}

// record writes the items' events to stream_events, each as consumed but a
// read receipt, logged with ids only; rows another node wrote first are left
// as they are. A redriven copy resolves its dead letter in the same
// transaction.
func (t *Tail) record(ctx context.Context, items []item) error {
	if len(items) == 0 {
		return nil
	}
	var (
		parts    = make([]int32, len(items))
		offsets  = make([]int64, len(items))
		ids      = make([]uuid.UUID, len(items))
		types    = make([]string, len(items))
		bids     = make([]uuid.UUID, len(items))
		users    = make([]*string, len(items))
		occurred = make([]time.Time, len(items))
		payloads = make([]string, len(items))
	)
	for i, it := range items {
		ev := it.ev
		parts[i] = int32(ev.Partition) //nolint:gosec // Kafka numbers partitions with an int32: kafka-go's int holds one
		offsets[i], ids[i], types[i], bids[i], occurred[i] = ev.Offset, ev.Value.EventID, string(ev.Value.EventType), ev.Value.BroadcastID, ev.Value.OccurredAt
		if ev.Value.UserID != "" {
			u := ev.Value.UserID
			users[i] = &u
		}
		payload := it.msg.Value
		if ev.Value.EventType == broadcast.EventRead {
			var err error
			if payload, err = json.Marshal(ev.Value); err != nil {
				return fmt.Errorf("encode read event %s: %w", ev.Value.EventID, err)
			}
		}
		payloads[i] = string(payload)
	}
	return pgx.BeginFunc(ctx, t.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO stream_events (kafka_partition, kafka_offset, event_id, event_type, broadcast_id, user_id, occurred_at, payload)
			SELECT * FROM unnest($1::int[], $2::bigint[], $3::uuid[], $4::text[], $5::uuid[], $6::text[], $7::timestamptz[], $8::json[])
			ON CONFLICT DO NOTHING`, parts, offsets, ids, types, bids, users, occurred, payloads); err != nil {
			return err
		}
		for _, it := range items {
			if err := deadletter.Resolve(ctx, tx, it.msg, Consumer); err != nil {
				return err
			}
		}
		return nil
	})
}
