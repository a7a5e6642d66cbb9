package deadletter

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/audit"
)

// Guarded changes of a dead letter: from the statuses its step allows ($2)
// to the one it leads to ($3).
const (
	redriveSQL = `UPDATE dead_letters SET status = $3, redrives = redrives + 1, updated_at = now()
		WHERE id = $1 AND status = ANY($2::text[]) RETURNING ` + letterColumns
	dropSQL = `UPDATE dead_letters SET status = $3, dropped_at = now(), updated_at = now()
		WHERE id = $1 AND status = ANY($2::text[]) RETURNING ` + letterColumns
)

// Redrive sends a PENDING or FAILED dead letter to its topic again, for its
// consumer only, and marks it REDRIVING; the consumer processes it as it
// processes any message (the same code, the same dedupe) and records the
// outcome: RESOLVED, or FAILED with the new error. In one transaction the
// row is locked and changed, the copy is written to Kafka (acknowledged by
// every in-sync replica) and by's redrive is recorded in the audit log; if
// Kafka does not take the copy, nothing changes (ErrUnavailable). Should the
// commit fail after Kafka took the copy, the consumer still records its
// outcome (resolving is allowed from PENDING), and its dedupe keeps the
// copy from applying twice. Any other status is ErrConflict.
func (s *Store) Redrive(ctx context.Context, by audit.Origin, id uuid.UUID) (Letter, error) {
	var out Letter
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		out = before.Letter
		if !stepRedrive.allows(before.Status) {
			return ErrConflict
		}
		after, err := scanLetter(tx.QueryRow(ctx, redriveSQL, append([]any{id}, stepRedrive.guard()...)...))
		if err != nil {
			return fmt.Errorf("mark dead letter %s redriving: %w", id, err)
		}
		out = after
		// Before the audit entry, which takes the audit log's lock last:
		// Kafka may take seconds.
		if err := s.w.WriteMessages(ctx, redriven(after, before.key, before.value, before.headers)); err != nil {
			return fmt.Errorf("%w: send dead letter %s to %s again: %w", ErrUnavailable, id, after.Topic, err)
		}
		return recordChange(ctx, tx, by, audit.ActionDeadLetterRedrive, before.Letter, after)
	})
	switch {
	case errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound):
		return out, err
	case err != nil:
		return Letter{}, fmt.Errorf("redrive dead letter %s: %w", id, err)
	}
	s.log.Info("Redrove a dead letter", "dead_letter_id", id, "consumer", out.Consumer, "topic", out.Topic,
		"redrives", out.Redrives, "actor", by.Actor.ID, "request_id", by.RequestID)
	return out, nil
}

// Drop gives up on a PENDING or FAILED dead letter: it stays, DROPPED, for
// the record (its message stays on the dead-letter topic too), and by's drop
// is in the audit log. Dropping a DROPPED one again changes nothing and
// succeeds; any other status is ErrConflict.
func (s *Store) Drop(ctx context.Context, by audit.Origin, id uuid.UUID) (Letter, error) {
	var out Letter
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		out = before.Letter
		switch {
		case before.Status == transitions[stepDrop].to:
			return nil
		case !stepDrop.allows(before.Status):
			return ErrConflict
		}
		if out, err = scanLetter(tx.QueryRow(ctx, dropSQL, append([]any{id}, stepDrop.guard()...)...)); err != nil {
			return fmt.Errorf("drop dead letter %s: %w", id, err)
		}
		return recordChange(ctx, tx, by, audit.ActionDeadLetterDrop, before.Letter, out)
	})
	switch {
	case errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound):
		return out, err
	case err != nil:
		return Letter{}, fmt.Errorf("drop dead letter %s: %w", id, err)
	}
	return out, nil
}
