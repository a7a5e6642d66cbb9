package audience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/retry"
)

// outcome is what applying one event did.
type outcome struct {
	duplicate bool  // applied before: dropped
	gone      bool  // a publication whose broadcast no longer exists
	counted   bool  // a publication whose targeted count was fixed now
	targeted  int64 // the count, when counted
	fanOut    int64 // delivery rows created
}

// applyUntilDone applies batch, retrying transient failures with backoff
// until it succeeds or ctx ends (false). A batch failing for a reason no
// retry fixes is applied message by message, so only the message at fault
// is retried a bounded number of times and dead-lettered (applyAlone); the
// others are applied as usual.
func (m *Materializer) applyUntilDone(ctx context.Context, batch []message) bool {
	if len(batch) == 1 {
		return m.applyAlone(ctx, batch[0])
	}
	for attempt := 1; ; attempt++ {
		err := deadletter.Protect(func() error { return m.apply(ctx, batch) })
		_, permanent := deadletter.Classify(err)
		switch {
		case err == nil:
			return true
		case ctx.Err() != nil:
			return false
		case permanent:
			for _, b := range batch {
				if !m.applyAlone(ctx, b) {
					return false
				}
			}
			return true
		}
		m.log.Warn("Applying events failed; will retry", "attempt", attempt, "events", len(batch), "error", err)
		if !retry.Wait(ctx, attempt) {
			return false
		}
	}
}

// applyAlone applies one message by the dead-letter policy: transient
// failures are retried without limit, permanent ones a bounded number of
// times before the message is dead-lettered. False when ctx ended first.
func (m *Materializer) applyAlone(ctx context.Context, b message) bool {
	return m.cfg.DeadLetters.Process(ctx, b.msg, func(ctx context.Context) error { return m.apply(ctx, []message{b}) })
}

// apply applies a batch in one transaction and logs what it did once the
// transaction committed.
func (m *Materializer) apply(ctx context.Context, batch []message) error {
	started := time.Now()
	outcomes := make([]outcome, len(batch))
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		for i, b := range batch {
			switch {
			case b.other:
				continue // a redrive for another consumer
			case b.bad != nil:
				return fmt.Errorf("message at partition %d offset %d: %w", b.msg.Partition, b.msg.Offset, b.bad)
			}
			var err error
			if outcomes[i], err = applyEvent(ctx, tx, b.event); err != nil {
				return fmt.Errorf("apply event %s (%s of broadcast %s): %w", b.event.EventID, b.event.EventType, b.event.BroadcastID, err)
			}
			// A redriven copy resolves its dead letter with its effects.
			if err := deadletter.Resolve(ctx, tx, b.msg, Consumer); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, o := range outcomes {
		ev := batch[i].event
		attrs := []any{"event_id", ev.EventID, "event_type", ev.EventType, "broadcast_id", ev.BroadcastID,
			"partition", batch[i].msg.Partition, "offset", batch[i].msg.Offset}
		switch {
		case batch[i].bad != nil || batch[i].other:
		case o.duplicate:
			m.log.Debug("Dropped a duplicate event", attrs...)
		case o.gone:
			m.log.Info("Skipped the publication of a deleted broadcast", attrs...)
		case o.counted:
			m.log.Info("Materialized the audience of a broadcast", append(attrs, "targeted", o.targeted,
				"deliveries_created", o.fanOut, "batch_duration", time.Since(started))...)
		default:
			m.log.Debug("Recorded an event", attrs...)
		}
	}
	m.log.LogAttrs(ctx, slog.LevelDebug, "Applied events", slog.Int("events", len(batch)), slog.Duration("duration", time.Since(started)))
	return nil
}

// applyEvent records ev as processed and, when it is new and a publication,
// materializes its broadcast's audience.
func applyEvent(ctx context.Context, tx pgx.Tx, ev broadcast.Event) (outcome, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, Consumer, ev.EventID)
	if err != nil {
		return outcome{}, fmt.Errorf("record processed event: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return outcome{duplicate: true}, nil
	}
	if ev.EventType != broadcast.EventPublished {
		return outcome{}, nil
	}
	return materialize(ctx, tx, ev)
}

// materialize fixes the targeted count of a published broadcast and, for a
// SELECTED target, creates one delivery row per user, in one statement. The
// broadcast row, the authority on its target, is locked against deletion
// meanwhile; a broadcast deleted already is skipped. Rows created for a
// broadcast cancelled or expired since are SUPERSEDED at once, as the
// cancel or expiry would have made them.
func materialize(ctx context.Context, tx pgx.Tx, ev broadcast.Event) (outcome, error) {
	var (
		status broadcast.Status
		target broadcast.Target
	)
	err := tx.QueryRow(ctx, `SELECT status, target_type, target_ids FROM broadcasts WHERE id = $1 FOR KEY SHARE`, ev.BroadcastID).
		Scan(&status, &target.Type, &target.IDs)
	if errors.Is(err, pgx.ErrNoRows) {
		return outcome{gone: true}, nil
	}
	if err != nil {
		return outcome{}, fmt.Errorf("read broadcast: %w", err)
	}
	o := outcome{counted: true}
	if o.targeted, err = countAudience(ctx, tx, target); err != nil {
		return outcome{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO broadcast_stats (broadcast_id, targeted) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		ev.BroadcastID, o.targeted); err != nil {
		return outcome{}, fmt.Errorf("record targeted count: %w", err)
	}
	if target.Type != broadcast.TargetSelected {
		return o, nil
	}
	initial := "PENDING"
	if status.Terminal() {
		initial = "SUPERSEDED"
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO deliveries (broadcast_id, user_id, status)
		SELECT $1, user_id, $3 FROM unnest($2::text[]) AS user_id
		ON CONFLICT DO NOTHING`, ev.BroadcastID, selectedIDs(target.IDs), initial)
	if err != nil {
		return outcome{}, fmt.Errorf("create delivery rows: %w", err)
	}
	o.fanOut = tag.RowsAffected()
	return o, nil
}
