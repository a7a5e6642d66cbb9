package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/tracing"
)

// claimSQL claims the oldest pending rows that head their broadcast's queue.
// Rows locked by another relay are skipped, and so are rows of a broadcast
// whose older row is still pending (even if another relay holds it), which
// keeps each broadcast's events in order on its partition.
const claimSQL = `
SELECT id, event_id, event_type, broadcast_id, occurred_at, COALESCE(snapshot::text, ''), COALESCE(user_id, ''), COALESCE(trace_context, '')
FROM outbox o
WHERE published_at IS NULL AND failed_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM outbox p
    WHERE p.broadcast_id = o.broadcast_id AND p.id < o.id
      AND p.published_at IS NULL AND p.failed_at IS NULL)
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED`

// claimPlanSQL keeps the claim's plan linear whatever PostgreSQL believes
// about the outbox. A burst inserts thousands of pending rows at once, far
// more than the statistics (gathered while nearly every row was published)
// predict, and with those estimates the planner picks a nested-loop anti join
// that compares every pending row with every other: 20 million comparisons,
// over a second per claim, for 10,000 pending rows (issue 6's burst went
// from 600 events/s to thousands once this was set). A hash anti join is
// linear in the pending rows.
const claimPlanSQL = `SET LOCAL enable_nestloop = off`

type row struct {
	id          int64
	eventID     uuid.UUID
	eventType   broadcast.EventType
	broadcastID uuid.UUID
	occurredAt  time.Time
	snapshot    string // empty for BROADCAST_READ
	userID      string // the reader, for BROADCAST_READ
	// traceContext is the traceparent of the change that wrote the event.
	traceContext string
	scheduledAt  time.Time // of the broadcast, for the lateness of publications
	reason       string    // why it failed for good, once it has
}

// RelayOnce claims one batch, writes it to Kafka and marks what was written
// as published, all in one transaction that holds the claimed rows' locks.
// It reports how many rows it claimed.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	var (
		claimed   int
		permanent []row
		stalled   error
	)
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, claimPlanSQL); err != nil {
			return fmt.Errorf("claim outbox rows: %w", err)
		}
		rows, err := tx.Query(ctx, claimSQL, r.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("claim outbox rows: %w", err)
		}
		batch, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
			var rw row
			err := cr.Scan(&rw.id, &rw.eventID, &rw.eventType, &rw.broadcastID, &rw.occurredAt, &rw.snapshot, &rw.userID, &rw.traceContext)
			return rw, err
		})
		if err != nil {
			return fmt.Errorf("claim outbox rows: %w", err)
		}
		claimed = len(batch)
		if claimed == 0 {
			return nil
		}
		var outcome writeOutcome
		outcome, permanent = r.write(ctx, batch)
		if len(outcome.published) == 0 && len(outcome.retry) > 0 {
			stalled = fmt.Errorf("%w: %s", ErrKafkaUnavailable, firstReason(outcome.retry))
		}
		return r.record(ctx, tx, outcome)
	})
	if err != nil {
		return claimed, err
	}
	if stalled != nil {
		return claimed, stalled // recorded the attempt; the caller backs off
	}
	r.failBroadcasts(ctx, permanent)
	return claimed, nil
}

// ErrKafkaUnavailable means a batch was claimed but Kafka took none of it;
// the rows stay pending.
var ErrKafkaUnavailable = errors.New("kafka took none of the batch")

func firstReason(reasons map[int64]string) string {
	for _, r := range reasons {
		return r
	}
	return ""
}

type writeOutcome struct {
	published []int64
	failed    map[int64]string // permanent: no retry can fix
	retry     map[int64]string // transient: stays pending
}

// write sends the batch and sorts its rows by what Kafka answered.
func (r *Relay) write(ctx context.Context, batch []row) (writeOutcome, []row) {
	out := writeOutcome{failed: map[int64]string{}, retry: map[int64]string{}}
	var permanent []row
	msgs := make([]kafka.Message, 0, len(batch))
	sent := make([]row, 0, len(batch))
	spans := make([]trace.Span, 0, len(batch))
	defer func() {
		for _, s := range spans {
			s.End()
		}
	}()
	for _, rw := range batch {
		msg, scheduledAt, err := message(rw)
		rw.scheduledAt = scheduledAt
		// Continue the trace of the change that wrote the event; consumers
		// continue it from the message's headers.
		spanCtx, span := tracing.Tracer().Start(tracing.FromTraceParent(ctx, rw.traceContext), "kafka.produce "+string(rw.eventType),
			trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
				attribute.String("messaging.destination.name", r.cfg.Topic),
				attribute.String("crier.broadcast_id", rw.broadcastID.String()), attribute.String("crier.event_id", rw.eventID.String())))
		spans = append(spans, span)
		msg.Headers = tracing.InjectKafka(spanCtx, msg.Headers)
		if err != nil {
			rw.reason = err.Error()
			out.failed[rw.id] = rw.reason
			permanent = append(permanent, rw)
			continue
		}
		msgs = append(msgs, msg)
		sent = append(sent, rw)
	}
	err := r.writer.WriteMessages(ctx, msgs...)
	var perMessage kafka.WriteErrors
	for i, rw := range sent {
		var msgErr error
		switch {
		case err == nil:
		case errors.As(err, &perMessage) && len(perMessage) == len(sent):
			msgErr = perMessage[i]
		default:
			msgErr = err
		}
		switch {
		case msgErr == nil:
			out.published = append(out.published, rw.id)
			metrics.RelayEvents.WithLabelValues(string(rw.eventType)).Inc()
			if rw.eventType == broadcast.EventPublished && !rw.scheduledAt.IsZero() {
				metrics.PublicationLateness.Observe(time.Since(rw.scheduledAt).Seconds())
			}
		case isPermanent(msgErr):
			metrics.RelayErrors.WithLabelValues("permanent").Inc()
			rw.reason = msgErr.Error()
			out.failed[rw.id] = rw.reason
			permanent = append(permanent, rw)
		default:
			metrics.RelayErrors.WithLabelValues("transient").Inc()
			out.retry[rw.id] = msgErr.Error()
		}
	}
	if len(out.retry) > 0 {
		r.log.Warn("Kafka did not take every event; they stay pending", "pending", len(out.retry), "error", err)
	}
	return out, permanent
}

func (r *Relay) record(ctx context.Context, tx pgx.Tx, out writeOutcome) error {
	if len(out.published) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1)`, out.published); err != nil {
			return fmt.Errorf("mark outbox rows published: %w", err)
		}
	}
	for id, reason := range out.failed {
		if _, err := tx.Exec(ctx, `UPDATE outbox SET failed_at = now(), attempts = attempts + 1, last_error = $2 WHERE id = $1`, id, reason); err != nil {
			return fmt.Errorf("mark outbox row failed: %w", err)
		}
	}
	for id, reason := range out.retry {
		if _, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, id, reason); err != nil {
			return fmt.Errorf("record outbox attempt: %w", err)
		}
	}
	return nil
}

// failBroadcasts marks FAILED the broadcasts whose publication event Kafka
// refused for good: clients never saw them.
func (r *Relay) failBroadcasts(ctx context.Context, rows []row) {
	s := store.New(r.pool)
	for _, rw := range rows {
		r.log.Error("Kafka refused an event for good", "event_id", rw.eventID, "event_type", rw.eventType,
			"broadcast_id", rw.broadcastID, "reason", rw.reason)
		if rw.eventType != broadcast.EventPublished {
			continue
		}
		if _, err := s.Fail(ctx, rw.broadcastID, "Kafka refused the publication event: "+rw.reason); err != nil {
			r.log.Error("Could not mark broadcast failed", "broadcast_id", rw.broadcastID, "error", err)
		}
	}
}

// message builds the Kafka message of an outbox row: the Event as JSON, keyed
// by broadcast id, with the event id and type also as headers. A read names
// the broadcast and the reader only, even from a row written with a
// snapshot before reads stopped carrying one.
func message(rw row) (kafka.Message, time.Time, error) {
	var (
		b           broadcast.Broadcast
		scheduledAt time.Time
	)
	if rw.eventType != broadcast.EventRead {
		var err error
		if b, err = store.DecodeSnapshot([]byte(rw.snapshot)); err != nil {
			return kafka.Message{}, time.Time{}, err
		}
		if b.ScheduledAt != nil {
			scheduledAt = *b.ScheduledAt
		}
	}
	value, err := json.Marshal(broadcast.Event{
		EventID:     rw.eventID,
		EventType:   rw.eventType,
		BroadcastID: rw.broadcastID,
		OccurredAt:  rw.occurredAt.UTC(),
		UserID:      rw.userID,
		Broadcast:   b,
	})
	if err != nil {
		return kafka.Message{}, time.Time{}, fmt.Errorf("encode event %s: %w", rw.eventID, err)
	}
	return kafka.Message{
		Key:   []byte(rw.broadcastID.String()),
		Value: value,
		Headers: []kafka.Header{
			{Key: "event_id", Value: []byte(rw.eventID.String())},
			{Key: "event_type", Value: []byte(rw.eventType)},
		},
	}, scheduledAt, nil
}

// isPermanent reports whether Kafka refused a message in a way no retry can
// fix.
func isPermanent(err error) bool {
	var tooLarge kafka.MessageTooLargeError
	return errors.As(err, &tooLarge) ||
		errors.Is(err, kafka.MessageSizeTooLarge) ||
		errors.Is(err, kafka.InvalidMessage) ||
		errors.Is(err, kafka.InvalidMessageSize) ||
		errors.Is(err, kafka.RecordListTooLarge)
}
