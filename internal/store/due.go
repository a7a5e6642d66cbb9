package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crier/crier/internal/broadcast"
)

// Due is a broadcast's next timed transition: its publication at
// scheduled_at, or its expiry at expires_at.
type Due struct {
	ID uuid.UUID
	// Op is broadcast.OpPublish or broadcast.OpExpire.
	Op broadcast.Operation
	// At is when it falls due, on PostgreSQL's clock.
	At time.Time
}

// DueOps are the transitions that fall due at a time of the broadcast's own,
// which DueBefore lists and ApplyDue applies.
var DueOps = []broadcast.Operation{broadcast.OpPublish, broadcast.OpExpire}

// dueTime is the column whose time op falls due at.
var dueTime = map[broadcast.Operation]string{
	broadcast.OpPublish: "scheduled_at",
	broadcast.OpExpire:  "expires_at",
}

// dueOnlyIf narrows what falls due of op: a local-time broadcast is
// published in waves by its workflow (BeginWaves), never at once.
var dueOnlyIf = map[broadcast.Operation]string{
	broadcast.OpPublish: "local_time IS NULL",
	broadcast.OpExpire:  "true",
}

// statusLiteral is the SQL list of the statuses op may start from, written
// into the statement's text rather than passed as a parameter: the planner
// then matches it to the partial indexes on status (broadcasts_scheduled_due,
// broadcasts_sent_expiry), which a parameter never proves it may use. The
// statuses are Crier's own constants, from broadcast.Transitions.
func statusLiteral(op broadcast.Operation) string {
	quoted := make([]string, 0, len(broadcast.Transitions[op].From))
	for _, s := range broadcast.Transitions.From(op) {
		quoted = append(quoted, "'"+s+"'")
	}
	return "(" + strings.Join(quoted, ", ") + ")"
}

// dueBeforeSQL lists, earliest first, the broadcasts whose publication or
// expiry falls due before $1, overdue ones included, at most $2 of each;
// every row also carries PostgreSQL's clock, so the caller can time them on
// that clock rather than its own. Built on each call, from the lifecycle as it
// stands.
func dueBeforeSQL() string {
	parts := make([]string, 0, len(DueOps))
	for _, op := range DueOps {
		parts = append(parts, fmt.Sprintf(`(SELECT id, '%s' AS op, %[2]s AS at FROM broadcasts
	WHERE status IN %[3]s AND %[2]s < $1 AND %[4]s ORDER BY %[2]s LIMIT $2)`, op, dueTime[op], statusLiteral(op), dueOnlyIf[op]))
	}
	return `SELECT d.id, d.op, d.at, clock_timestamp() FROM (` + strings.Join(parts, "\nUNION ALL\n") + `) d ORDER BY d.at`
}

// DueBefore returns the publications and expiries that fall due before
// before (on PostgreSQL's clock), overdue ones included, earliest first, at
// most limit of each, and PostgreSQL's clock when it read them.
func (s *Store) DueBefore(ctx context.Context, before time.Time, limit int) ([]Due, time.Time, error) {
	rows, err := s.pool.Query(ctx, dueBeforeSQL(), before, limit)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("list due broadcasts: %w", err)
	}
	defer rows.Close()
	var (
		due   []Due
		clock time.Time
	)
	for rows.Next() {
		var d Due
		var op string
		if err := rows.Scan(&d.ID, &op, &d.At, &clock); err != nil {
			return nil, time.Time{}, fmt.Errorf("list due broadcasts: %w", err)
		}
		d.Op = broadcast.Operation(op)
		due = append(due, d)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("list due broadcasts: %w", err)
	}
	if clock.IsZero() {
		if err := s.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&clock); err != nil {
			return nil, time.Time{}, fmt.Errorf("read PostgreSQL's clock: %w", err)
		}
	}
	return due, clock, nil
}

// dueTransitions are the statements ApplyDue runs: the same changes, events
// and guards as Publish and Expire, for many broadcasts at once, applied only
// to those whose time has come on PostgreSQL's clock and skipping rows another
// transaction holds (another worker applying the same, a workflow's own
// publish, a cancel in progress) rather than waiting for them.
var dueTransitions = map[broadcast.Operation]string{
	broadcast.OpPublish: publish.dueSQL(broadcast.OpPublish),
	broadcast.OpExpire:  expire.dueSQL(broadcast.OpExpire),
}

// dueSQL is t for the broadcasts $1 (uuid[]) whose time of op has passed;
// $2 and $3 are guardArgs. "Passed" is on now(), the statement's start, the
// clock the times it records read too: on clock_timestamp() a statement
// started just before scheduled_at would find it passed and still record
// published_at and the event's occurred_at before it. A broadcast that falls
// due while the statement runs is left for the dispatcher's next round.
func (t transition) dueSQL(op broadcast.Operation) string {
	var b strings.Builder
	fmt.Fprintf(&b, `WITH c AS (
	SELECT id AS due_id FROM broadcasts
	WHERE id = ANY($1::uuid[]) AND %s AND %s <= now() AND %s
	FOR UPDATE SKIP LOCKED
), b AS (
	UPDATE broadcasts SET %s, %s, updated_at = now()
	FROM c WHERE id = c.due_id
	RETURNING %s
), o AS (
	INSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot, trace_context)
	SELECT '%s', b.id, now(), row_to_json(b), %s FROM b
	RETURNING 1
), n AS (
	SELECT pg_notify('%s', '') WHERE EXISTS (SELECT 1 FROM o)
)`, guard, dueTime[op], dueOnlyIf[op], setStatus, t.set, columns, t.event, creationTrace, OutboxChannel)
	if t.supersede {
		b.WriteString(`, d AS (
	UPDATE deliveries SET status = 'SUPERSEDED' WHERE broadcast_id IN (SELECT id FROM b) AND status = 'PENDING'
)`)
	}
	fmt.Fprintf(&b, "\nSELECT %s, (SELECT count(*) FROM n) FROM b", columns)
	return b.String()
}

// ApplyDue applies op (OpPublish or OpExpire) to those of ids whose time has
// come, each guarded and recording its event exactly as Publish and Expire
// do, in one statement and transaction, and returns the broadcasts it
// changed. A broadcast it did not change has moved on (cancelled,
// rescheduled, already done), is not due yet on PostgreSQL's clock, or was
// held by another transaction; Pending tells which of them are still to do.
func (s *Store) ApplyDue(ctx context.Context, op broadcast.Operation, ids []uuid.UUID) ([]broadcast.Broadcast, error) {
	sql, ok := dueTransitions[op]
	if !ok {
		return nil, fmt.Errorf("apply due %s: not a timed transition", op)
	}
	rows, err := s.pool.Query(ctx, sql, append([]any{binaryUUIDs(ids)}, guardArgs(op)...)...)
	if err != nil {
		return nil, fmt.Errorf("apply due %s: %w", op, err)
	}
	changed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (broadcast.Broadcast, error) {
		return scanTransitionRow(r, true)
	})
	if err != nil {
		return nil, fmt.Errorf("apply due %s: %w", op, err)
	}
	return changed, nil
}

// Pending returns, of ids, those op may still apply to, with the time they
// fall due, and PostgreSQL's clock.
func (s *Store) Pending(ctx context.Context, op broadcast.Operation, ids []uuid.UUID) ([]Due, time.Time, error) {
	col, ok := dueTime[op]
	if !ok {
		return nil, time.Time{}, fmt.Errorf("pending %s: not a timed transition", op)
	}
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT id, %s, clock_timestamp() FROM broadcasts
		WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[]) AND %[1]s IS NOT NULL AND %[2]s`, col, dueOnlyIf[op]),
		binaryUUIDs(ids), broadcast.Transitions.From(op))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("pending %s: %w", op, err)
	}
	defer rows.Close()
	var (
		pending []Due
		clock   time.Time
	)
	for rows.Next() {
		d := Due{Op: op}
		if err := rows.Scan(&d.ID, &d.At, &clock); err != nil {
			return nil, time.Time{}, fmt.Errorf("pending %s: %w", op, err)
		}
		pending = append(pending, d)
	}
	return pending, clock, rows.Err()
}

// binaryUUIDs sends ids as 16 bytes each; uuid.UUID goes as text, which
// costs about 2 µs an id.
func binaryUUIDs(ids []uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	return out
}
