package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/series"
)

// ScheduleOrigin is who makes a series' occurrences: its Temporal Schedule,
// on behalf of the series' sender.
var ScheduleOrigin = audit.Origin{Actor: audit.Actor{ID: "temporal-schedule", Name: "temporal-schedule", Roles: []string{}}}

// OccurrenceRequest is what one action of a series' schedule asks for: the
// occurrence named Key, due at Due (Compiled.Occurrence).
type OccurrenceRequest struct {
	SeriesID uuid.UUID
	Key      string
	Due      time.Time
}

// OccurrenceResult is what became of an OccurrenceRequest.
type OccurrenceResult struct {
	// Broadcast is the occurrence: made now, or by an earlier action with
	// the same key (Made false). Zero when none was made.
	Broadcast broadcast.Broadcast
	Made      bool
	// Refused says why no occurrence was made: the series has ended or was
	// cancelled, or reached its count. Empty when one was.
	Refused string
	// Ended is true when this occurrence was the series' last (its count):
	// the series is now ENDED and its schedule should go.
	Ended bool
	// Skipped is true when the occurrence would have expired before its
	// delivery window opened: recorded as skipped (Refused says why).
	Skipped bool
}

// MakeOccurrence makes the occurrence req asks for from the series'
// template as it stands, in one transaction with the series row locked:
// the broadcast (its id derived from the series and the key, so a retried
// action finds it), its workflow (start runs before the commit, as for a
// broadcast the API creates), the series' count, and the audit entry.
func (s *Store) MakeOccurrence(ctx context.Context, req OccurrenceRequest,
	start func(context.Context, broadcast.Broadcast) error) (OccurrenceResult, error) {
	var res OccurrenceResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		sr, err := getSeries(ctx, tx, req.SeriesID, true)
		if err != nil {
			return err
		}
		id := series.OccurrenceID(sr.ID, req.Key)
		if existing, err := get(ctx, tx, id); err == nil {
			res.Broadcast = existing // an earlier action made it
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		switch {
		case !series.Allows(series.OpOccur, sr.Status):
			res.Refused = fmt.Sprintf("the series is %s", sr.Status)
			return nil
		case sr.Recurrence.Count > 0 && sr.Occurrences >= sr.Recurrence.Count:
			res.Refused = fmt.Sprintf("the series made all its %d occurrences", sr.Recurrence.Count)
			return nil
		}
		due := req.Due.UTC().Truncate(broadcast.Precision)
		expires := due.Add(time.Duration(sr.ExpiresAfter))
		at := due
		if sr.DeliveryWindow != nil {
			if w, problems := sr.DeliveryWindow.Compile("delivery_window"); len(problems) == 0 {
				at = w.NextOpening(due).UTC()
			}
		}
		if !at.Before(expires) { // expiry wins: the window opens too late
			res.Refused = fmt.Sprintf("its delivery window opens next at %s, after the occurrence expires (%s)",
				at.Format(time.RFC3339), expires.Format(time.RFC3339))
			res.Skipped = true
			return skip(ctx, tx, sr, SkippedOccurrence{SeriesID: sr.ID, Key: req.Key, Due: due}, res.Refused)
		}
		seriesID := sr.ID
		b := broadcast.Broadcast{
			ID: id, Status: broadcast.StatusScheduled, Sender: sr.Sender, Title: sr.Title, Content: sr.Content,
			Category: sr.Category, Priority: sr.Priority, Target: sr.Target, ScheduledAt: &at, ExpiresAt: &expires,
			WorkflowID: broadcast.WorkflowID(id), SeriesID: &seriesID, OccurrenceAt: &due, DeliveryWindow: sr.DeliveryWindow,
		}
		if res.Broadcast, res.Made, err = insert(ctx, tx, ScheduleOrigin, b, nil, start); err != nil || !res.Made {
			return err
		}
		last := sr.Recurrence.Count > 0 && sr.Occurrences+1 >= sr.Recurrence.Count
		status := ""
		if last {
			status = string(series.StatusEnded)
		}
		_, err = tx.Exec(ctx, `UPDATE series SET occurrences = occurrences + 1,
				last_occurrence_at = GREATEST(last_occurrence_at, $2), updated_at = now(),
				status = COALESCE(NULLIF($3, ''), status), ended_at = CASE WHEN $3 = '' THEN ended_at ELSE now() END
			WHERE id = $1`, sr.ID, due, status)
		res.Ended = last
		return err
	})
	if err != nil {
		return res, fmt.Errorf("make the occurrence %s of series %s: %w", req.Key, req.SeriesID, err)
	}
	return res, nil
}

// SkippedOccurrence is an occurrence a series' schedule came to too late.
type SkippedOccurrence struct {
	SeriesID uuid.UUID
	Key      string
	Due      time.Time
	// LateBy is how long after Due the action ran; CatchupWindow what it
	// was allowed.
	LateBy, CatchupWindow time.Duration
}

// SkipOccurrence records an occurrence that is not sent because its
// schedule came to it later than the catch-up window allows: the series'
// skipped count and an audit entry. A retried record of the same
// occurrence changes nothing.
func (s *Store) SkipOccurrence(ctx context.Context, sk SkippedOccurrence) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := getSeries(ctx, tx, sk.SeriesID, true)
		if err != nil {
			return err
		}
		return skip(ctx, tx, before, sk, fmt.Sprintf("the schedule came to it %s late; the catch-up window is %s", sk.LateBy, sk.CatchupWindow))
	})
}

// skip records in tx an occurrence of the series before (locked) that is
// not sent, and why.
func skip(ctx context.Context, tx pgx.Tx, before series.Series, sk SkippedOccurrence, why string) error {
	if before.LastSkippedAt != nil && !before.LastSkippedAt.Before(sk.Due) {
		return nil // recorded already
	}
	after, err := scanSeries(tx.QueryRow(ctx, `UPDATE series SET skipped = skipped + 1, last_skipped_at = $2, updated_at = now()
		WHERE id = $1 RETURNING `+seriesColumns, sk.SeriesID, sk.Due))
	if err != nil {
		return fmt.Errorf("record a skipped occurrence of series %s: %w", sk.SeriesID, err)
	}
	return recordSeries(ctx, tx, ScheduleOrigin, audit.ActionSeriesOccurrenceSkipped, &before, after, map[string]any{
		"occurrence": sk.Key, "due_at": sk.Due.UTC(), "why": why,
	})
}
