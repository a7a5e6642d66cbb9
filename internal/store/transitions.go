package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/tracing"
)

// OutboxChannel is the PostgreSQL notification channel that wakes the outbox
// relay when a change inserts an event.
const OutboxChannel = "crier_outbox"

// Result is the outcome of a lifecycle change.
type Result struct {
	// Broadcast is the broadcast after the change, or as it stands when the
	// change was not applied.
	Broadcast broadcast.Broadcast
	// Applied is false when the broadcast's status did not allow the change
	// (it had moved on, or it was already done by an earlier attempt).
	Applied bool
}

// transition is one guarded lifecycle change. Its statement updates the row
// only from the statuses broadcast.Transitions allows for its operation and,
// in the same statement, inserts the outbox event and supersedes pending
// deliveries, so all of it commits or none of it does, in one round trip.
//
// The statement's text never names a status: $2 is the list of statuses its
// operation (the Store method's) may start from and $3 the status it leads
// to, both read from broadcast.Transitions on every call (guardArgs), so the
// lifecycle is written in one place and the SQL cannot drift from it.
type transition struct {
	set string // more of the SET clause; $1 is the broadcast id, $4 on its arguments
	// event to record, if any
	event broadcast.EventType
	// eventIf restricts the event to rows matching this condition on the
	// updated row b; empty means always.
	eventIf string
	// supersede marks the broadcast's pending deliveries SUPERSEDED.
	supersede bool
	// traceArg is the parameter number of the W3C traceparent stored with
	// the event (the last argument of a transition that records one).
	traceArg int
	// where guards more than the status, when set.
	where string
}

// guard is the WHERE clause of every transition after "id = $1 AND", and
// setStatus the start of its SET clause: the status changes only when the
// operation leads to one.
const (
	guard     = "status = ANY($2::text[])"
	setStatus = "status = COALESCE(NULLIF($3::text, ''), status)"
)

// creationTrace is the traceparent the broadcast b was created with: an
// event recorded without a trace of its own continues that one. In the
// statement that changes b it reads the row as it was, which holds the same.
const creationTrace = "(SELECT r.trace_context FROM broadcasts r WHERE r.id = b.id)"

// guardArgs are $2 and $3 of op's statement.
func guardArgs(op broadcast.Operation) []any {
	return []any{broadcast.Transitions.From(op), string(broadcast.Transitions[op].To)}
}

func (t transition) sql() string {
	var b strings.Builder
	set := setStatus
	if t.set != "" {
		set += ", " + t.set
	}
	where := guard
	if t.where != "" {
		where += " AND " + t.where
	}
	fmt.Fprintf(&b, "WITH b AS (\n\tUPDATE broadcasts SET %s, updated_at = now()\n\tWHERE id = $1 AND %s\n\tRETURNING %s\n)", set, where, columns)
	notify := ""
	if t.event != "" {
		cond := ""
		if t.eventIf != "" {
			cond = " WHERE " + t.eventIf
		}
		fmt.Fprintf(&b, ", o AS (\n\tINSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot, trace_context)\n\tSELECT '%s', b.id, now(), row_to_json(b), COALESCE(NULLIF($%d::text, ''), "+creationTrace+") FROM b%s\n\tRETURNING 1\n)", t.event, t.traceArg, cond)
		notify = ", (SELECT count(pg_notify('" + OutboxChannel + "', '')) FROM o)"
	}
	if t.supersede {
		b.WriteString(", d AS (\n\tUPDATE deliveries SET status = 'SUPERSEDED' WHERE broadcast_id = $1 AND status = 'PENDING' AND EXISTS (SELECT 1 FROM b)\n)")
	}
	fmt.Fprintf(&b, "\nSELECT %s%s FROM b", columns, notify)
	return b.String()
}

// publish is the publication, for one broadcast (publishSQL) or a batch
// (publishBatchSQL).
var publish = transition{
	set:      "published_at = now()",
	event:    broadcast.EventPublished,
	traceArg: 4,
}

// expire is the expiry, for one broadcast (expireSQL) or those due
// (ApplyDue).
var expire = transition{
	set:       "expired_at = now()",
	event:     broadcast.EventExpired,
	supersede: true,
	traceArg:  4,
}

var (
	publishSQL = publish.sql()
	cancelSQL  = transition{
		set: "cancelled_at = now()",
		// Only a broadcast clients may have seen needs retracting.
		event:     broadcast.EventCancelled,
		eventIf:   "b.published_at IS NOT NULL",
		supersede: true,
		traceArg:  4,
	}.sql()
	expireSQL = expire.sql()
	// A new scheduled_at ($4) is an OpReschedule, a new expires_at ($5)
	// alone an OpRescheduleExpiry: Reschedule passes the guard of the one
	// asked for.
	rescheduleSQL = transition{
		set:      "scheduled_at = COALESCE($4, scheduled_at), expires_at = COALESCE($5, expires_at)",
		event:    broadcast.EventRescheduled,
		traceArg: 6,
	}.sql()
	failSQL = transition{
		set: "failure_reason = $4",
	}.sql()
	// Drafts have no workflow and no audience yet: their changes need no event.
	scheduleDraftSQL = transition{
		set: "scheduled_at = $4, expires_at = $5, trace_context = COALESCE(NULLIF($6, ''), trace_context)",
	}.sql()
	rescheduleDraftSQL = transition{
		set: "scheduled_at = COALESCE($4, scheduled_at), expires_at = COALESCE($5, expires_at)",
	}.sql()
)

// rescheduleOp is the operation of a change of times: a new scheduled_at, or
// a new expires_at alone.
func rescheduleOp(scheduledAt *time.Time) broadcast.Operation {
	if scheduledAt != nil {
		return broadcast.OpReschedule
	}
	return broadcast.OpRescheduleExpiry
}

// Publish moves a scheduled broadcast to SENT and records BROADCAST_PUBLISHED.
func (s *Store) Publish(ctx context.Context, id uuid.UUID) (Result, error) {
	return s.apply(ctx, broadcast.OpPublish, publishSQL, id, tracing.TraceParent(ctx))
}

// Cancel moves a broadcast that has not ended to CANCELLED, supersedes its
// pending deliveries and, when it had been published, records
// BROADCAST_CANCELLED so clients retract it. The audit entry of by's cancel
// commits with it.
func (s *Store) Cancel(ctx context.Context, by audit.Origin, id uuid.UUID) (Result, error) {
	return s.applyAudited(ctx, by, audit.ActionBroadcastCancel, broadcast.OpCancel, cancelSQL, id, tracing.TraceParent(ctx))
}

// Expire moves a published broadcast to EXPIRED, supersedes its pending
// deliveries and records BROADCAST_EXPIRED.
func (s *Store) Expire(ctx context.Context, id uuid.UUID) (Result, error) {
	return s.apply(ctx, broadcast.OpExpire, expireSQL, id, tracing.TraceParent(ctx))
}

// Reschedule sets new times (nil keeps the current one) and records
// BROADCAST_RESCHEDULED. A new scheduled_at applies only to a SCHEDULED
// broadcast; a new expires_at alone also to a published one. The audit entry
// of by's reschedule commits with it.
func (s *Store) Reschedule(ctx context.Context, by audit.Origin, id uuid.UUID, scheduledAt, expiresAt *time.Time) (Result, error) {
	return s.applyAudited(ctx, by, audit.ActionBroadcastReschedule, rescheduleOp(scheduledAt), rescheduleSQL, id,
		scheduledAt, expiresAt, tracing.TraceParent(ctx))
}

// RescheduleDraft sets new times on a draft (nil keeps the current one),
// with the audit entry of by's reschedule.
func (s *Store) RescheduleDraft(ctx context.Context, by audit.Origin, id uuid.UUID, scheduledAt, expiresAt *time.Time) (Result, error) {
	return s.applyAudited(ctx, by, audit.ActionBroadcastReschedule, broadcast.OpRescheduleDraft, rescheduleDraftSQL, id, scheduledAt, expiresAt)
}

// Fail moves a broadcast that has not ended to FAILED with the reason, when
// publication failed for a reason no retry can fix.
func (s *Store) Fail(ctx context.Context, id uuid.UUID, reason string) (Result, error) {
	return s.apply(ctx, broadcast.OpFail, failSQL, id, reason)
}

// RecordRefusal records in the audit log that by asked for a change of the
// broadcast that its workflow refused, with why in detail. Nothing else
// changes: the entry's before and after are the broadcast as it stands.
func (s *Store) RecordRefusal(ctx context.Context, by audit.Origin, id uuid.UUID, detail any) (Result, error) {
	var res Result
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b, err := get(ctx, tx, id)
		if err != nil {
			return err
		}
		res.Broadcast = b
		e, err := audit.NewEntry(by, audit.ActionBroadcastSignalRefused, audit.TargetBroadcast, id.String(), &b, b, detail)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, e)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("record refused change of broadcast %s: %w", id, err)
	}
	return res, err
}

// ScheduleDraft moves a draft to SCHEDULED with its times and runs
// beforeCommit in the same transaction (the API starts the workflow there),
// which also records by's schedule in the audit log.
func (s *Store) ScheduleDraft(ctx context.Context, by audit.Origin, id uuid.UUID, scheduledAt, expiresAt time.Time,
	beforeCommit func(context.Context, broadcast.Broadcast) error) (Result, error) {
	res, err := s.applyStarting(ctx, by, audit.ActionBroadcastSchedule, broadcast.OpSchedule, scheduleDraftSQL, id, beforeCommit,
		scheduledAt, expiresAt, tracing.TraceParent(ctx))
	if err != nil {
		return Result{}, fmt.Errorf("schedule draft %s: %w", id, err)
	}
	return res, nil
}

// applyStarting runs a transition that starts the broadcast's workflow: in
// one transaction it locks the row, runs the statement and, when applied,
// runs beforeCommit (which starts the workflow) and records by's action in
// the audit log, so the change, its workflow and its entry go together.
func (s *Store) applyStarting(ctx context.Context, by audit.Origin, action audit.Action, op broadcast.Operation, sql string,
	id uuid.UUID, beforeCommit func(context.Context, broadcast.Broadcast) error, args ...any) (Result, error) {
	var res Result
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockBroadcast(ctx, tx, id); err != nil {
			return err
		}
		before, err := getForUpdate(ctx, tx, id)
		if err != nil {
			return err
		}
		res, err = applyOnce(ctx, tx, op, sql, id, args...)
		if err != nil || !res.Applied {
			return err
		}
		if err := beforeCommit(ctx, res.Broadcast); err != nil {
			return err
		}
		return record(ctx, tx, by, action, &before, res.Broadcast)
	})
	return res, err
}

// apply runs a transition. When its statement changes nothing, the
// broadcast's creating transaction may still be open (it starts the workflow
// before it commits): the statement did not see the row, and a read right
// after may see it committed. apply then waits for that transaction, if any,
// and runs the statement once more, so "not applied" is always the answer
// of a statement that saw the committed row.
func (s *Store) apply(ctx context.Context, op broadcast.Operation, sql string, id uuid.UUID, args ...any) (Result, error) {
	return s.afterCreator(ctx, op, id, func() (Result, error) {
		return applyOnce(ctx, s.pool, op, sql, id, args...)
	})
}

// applyAudited is apply for a change someone asked for: in one transaction
// it reads the broadcast as it was (locking the row), runs the transition
// and, when applied, records by's action in the audit log. A failure to
// record rolls the change back.
func (s *Store) applyAudited(ctx context.Context, by audit.Origin, action audit.Action, op broadcast.Operation, sql string,
	id uuid.UUID, args ...any) (Result, error) {
	return s.afterCreator(ctx, op, id, func() (Result, error) {
		var res Result
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			before, err := getForUpdate(ctx, tx, id)
			if err != nil {
				return err
			}
			if res, err = applyOnce(ctx, tx, op, sql, id, args...); err != nil || !res.Applied {
				return err
			}
			return record(ctx, tx, by, action, &before, res.Broadcast)
		})
		return res, err
	})
}

// afterCreator runs attempt, and once more after the broadcast's creating
// transaction ended when the first attempt found nothing to change (see apply).
func (s *Store) afterCreator(ctx context.Context, op broadcast.Operation, id uuid.UUID, attempt func() (Result, error)) (Result, error) {
	res, err := attempt()
	if errors.Is(err, ErrNotFound) || (err == nil && !res.Applied) {
		if err = s.waitForCreator(ctx, id); err == nil {
			res, err = attempt()
		}
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("%s broadcast %s: %w", op, id, err)
	}
	return res, err
}

// record writes the audit entry of by's action on a broadcast, from before
// (nil for a creation) to after, in tx.
func record(ctx context.Context, tx pgx.Tx, by audit.Origin, action audit.Action, before *broadcast.Broadcast, after broadcast.Broadcast) error {
	e, err := audit.NewEntry(by, action, audit.TargetBroadcast, after.ID.String(), before, after, nil)
	if err != nil {
		return err
	}
	return audit.Record(ctx, tx, e)
}

// applyOnce runs op's statement sql, guarded by the statuses
// broadcast.Transitions allows op from.
func applyOnce(ctx context.Context, q querier, op broadcast.Operation, sql string, id uuid.UUID, args ...any) (Result, error) {
	row := q.QueryRow(ctx, sql, append(append([]any{id}, guardArgs(op)...), args...)...)
	b, err := scanTransitionRow(row, strings.Contains(sql, "pg_notify"))
	if err == nil {
		return Result{Broadcast: b, Applied: true}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Result{}, err
	}
	b, err = get(ctx, q, id)
	return Result{Broadcast: b}, err
}

func scanTransitionRow(row pgx.Row, notified bool) (broadcast.Broadcast, error) {
	if !notified {
		return scanBroadcast(row)
	}
	var count int64
	return scanBroadcast(rowWithExtra{row: row, extra: []any{&count}})
}

// rowWithExtra scans a broadcast followed by extra columns.
type rowWithExtra struct {
	row   pgx.Row
	extra []any
}

func (r rowWithExtra) Scan(dest ...any) error {
	return r.row.Scan(append(dest, r.extra...)...)
}
