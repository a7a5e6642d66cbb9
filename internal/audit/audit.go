package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Action names what an admin did.
type Action string

// The actions recorded. A new one also needs a migration: the audit_log
// table checks the value.
const (
	ActionBroadcastCreate     Action = "broadcast.create"
	ActionBroadcastSchedule   Action = "broadcast.schedule"
	ActionBroadcastReschedule Action = "broadcast.reschedule"
	ActionBroadcastCancel     Action = "broadcast.cancel"
	// ActionBroadcastSignalRefused is a cancel or reschedule signal the
	// broadcast's workflow refused (a past time, or a state that forbids
	// it): a signal has no one to answer, so the refusal is recorded here.
	ActionBroadcastSignalRefused Action = "broadcast.signal_refused"
	// ActionBroadcastRetry is a FAILED broadcast scheduled again, with a
	// new run of its workflow.
	ActionBroadcastRetry Action = "broadcast.retry"
	ActionUserUpsert     Action = "user.upsert"
	ActionUserImport     Action = "user.import"
	// ActionDeadLetterRedrive and ActionDeadLetterDrop are an admin sending
	// a dead letter to its consumer again, or giving up on it.
	ActionDeadLetterRedrive Action = "dead_letter.redrive"
	ActionDeadLetterDrop    Action = "dead_letter.drop"
	// The series actions: an admin creating, changing, pausing, resuming,
	// triggering or cancelling a series; and an occurrence its schedule
	// came to too late to send (past the catch-up window), recorded by the
	// worker that skipped it.
	ActionSeriesCreate            Action = "series.create"
	ActionSeriesUpdate            Action = "series.update"
	ActionSeriesPause             Action = "series.pause"
	ActionSeriesResume            Action = "series.resume"
	ActionSeriesTrigger           Action = "series.trigger"
	ActionSeriesCancel            Action = "series.cancel"
	ActionSeriesOccurrenceSkipped Action = "series.occurrence_skipped"
)

// Actions lists every action, for validating filters.
var Actions = []Action{ActionBroadcastCreate, ActionBroadcastSchedule, ActionBroadcastReschedule,
	ActionBroadcastCancel, ActionBroadcastSignalRefused, ActionBroadcastRetry, ActionUserUpsert, ActionUserImport,
	ActionDeadLetterRedrive, ActionDeadLetterDrop, ActionSeriesCreate, ActionSeriesUpdate, ActionSeriesPause,
	ActionSeriesResume, ActionSeriesTrigger, ActionSeriesCancel, ActionSeriesOccurrenceSkipped}

// Valid reports whether a is one of Actions.
func (a Action) Valid() bool { return slices.Contains(Actions, a) }

// TargetType names the kind of thing an action changed.
type TargetType string

// The target types.
const (
	TargetBroadcast  TargetType = "broadcast"
	TargetUser       TargetType = "user"
	TargetDeadLetter TargetType = "dead_letter"
	TargetSeries     TargetType = "series"
)

// TargetTypes lists every target type, for validating filters.
var TargetTypes = []TargetType{TargetBroadcast, TargetUser, TargetDeadLetter, TargetSeries}

// Valid reports whether t is one of TargetTypes.
func (t TargetType) Valid() bool { return slices.Contains(TargetTypes, t) }

// Actor is who made a change: the verified claims of their token, or, for a
// change that reached a workflow another way, one of the Temporal actors.
type Actor struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// Origin is who made a change and under which request: what every entry of
// the change carries. It travels with a change that a workflow activity makes
// (in the update's request and the activity's input), so the entry is written
// in the activity's transaction.
type Origin struct {
	Actor Actor `json:"actor"`
	// RequestID is the id Crier gave the request that made the change (the
	// X-Request-Id it answered); empty for a change no request made.
	RequestID string `json:"request_id,omitempty"`
	// ClientRequestID is the X-Request-Id the client sent, if any: a hint
	// for joining with the client's own logs, never trusted (any client can
	// send any value).
	ClientRequestID string `json:"client_request_id,omitempty"`
}

// Entry is one recorded change.
type Entry struct {
	// ID orders entries: an entry recorded later has a greater id. Set by
	// the database.
	ID int64 `json:"id"`
	// OccurredAt is when the entry was recorded, in UTC. Set by the
	// database.
	OccurredAt time.Time `json:"occurred_at"`
	Origin
	Action     Action     `json:"action"`
	TargetType TargetType `json:"target_type"`
	// TargetID is empty when the action has no single target (an import's
	// summary).
	TargetID string `json:"target_id,omitempty"`
	// Before and After are the target as the API shows it; nil (JSON null)
	// when there is none, such as Before of a creation.
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	// Detail summarises what Before and After cannot show, such as an
	// import's count; nil when there is nothing to add.
	Detail json.RawMessage `json:"detail"`
}

// NewEntry is the entry of by doing action to a target, with before, after
// and detail encoded as JSON (nil: none).
func NewEntry(by Origin, action Action, targetType TargetType, targetID string, before, after, detail any) (Entry, error) {
	e := Entry{Origin: by, Action: action, TargetType: targetType, TargetID: targetID}
	err := errors.Join(marshalInto(&e.Before, before), marshalInto(&e.After, after), marshalInto(&e.Detail, detail))
	if err != nil {
		return Entry{}, fmt.Errorf("encode audit entry %s of %s %q: %w", action, targetType, targetID, err)
	}
	return e, nil
}

func marshalInto(dst *json.RawMessage, v any) error {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	*dst = raw
	return err
}

// Log lists audit entries in PostgreSQL.
type Log struct {
	pool *pgxpool.Pool
}

// New returns a Log on pool.
func New(pool *pgxpool.Pool) (*Log, error) {
	if pool == nil {
		return nil, errors.New("audit: no PostgreSQL pool")
	}
	return &Log{pool: pool}, nil
}

const entryColumns = `id, occurred_at, actor_id, actor_name, actor_roles, action, target_type,
	coalesce(target_id, ''), coalesce(request_id, ''), coalesce(client_request_id, ''), before, after, detail`

// recordColumns are the columns an entry is inserted with; the database sets
// the others (id, occurred_at and the chain's hashes, see migration 0008).
var recordColumns = []string{"actor_id", "actor_name", "actor_roles", "action", "target_type", "target_id",
	"request_id", "client_request_id", "before", "after", "detail"}

// Record appends e to the log inside tx, the transaction that makes the
// change e records: the entry commits with the change or neither does, and a
// failure to record is the change's failure. e's ID and OccurredAt are
// ignored: the database sets them. Recording takes the log's lock until tx
// ends (the entries form one chain), so a transaction records its change
// last, just before it commits.
func Record(ctx context.Context, tx pgx.Tx, e Entry) error {
	if err := e.validate(); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (`+strings.Join(recordColumns, ", ")+`)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), $9, $10, $11)`, e.values()...)
	if err != nil {
		return fmt.Errorf("record audit entry %s of %s %q: %w", e.Action, e.TargetType, e.TargetID, err)
	}
	return nil
}

// RecordAll appends entries in order, as Record does, with one COPY: an
// import records one entry per user it changed.
func RecordAll(ctx context.Context, tx pgx.Tx, entries []Entry) error {
	rows := make([][]any, len(entries))
	for i, e := range entries {
		if err := e.validate(); err != nil {
			return err
		}
		rows[i] = e.values()
		for _, j := range []int{5, 6, 7} { // target_id, request_id, client_request_id: NULL when empty
			if rows[i][j] == "" {
				rows[i][j] = nil
			}
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_log"}, recordColumns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("record %d audit entries: %w", len(entries), err)
	}
	return nil
}

func (e Entry) validate() error {
	switch {
	case e.Actor.ID == "":
		return errors.New("audit: an entry needs an actor")
	case !e.Action.Valid():
		return fmt.Errorf("audit: action %q is not one of %v", e.Action, Actions)
	case !e.TargetType.Valid():
		return fmt.Errorf("audit: target type %q is not one of %v", e.TargetType, TargetTypes)
	}
	return nil
}

// values are e's recordColumns.
func (e Entry) values() []any {
	roles := e.Actor.Roles
	if roles == nil {
		roles = []string{}
	}
	return []any{e.Actor.ID, e.Actor.Name, roles, string(e.Action), string(e.TargetType), e.TargetID,
		e.RequestID, e.ClientRequestID, jsonOrNull(e.Before), jsonOrNull(e.After), jsonOrNull(e.Detail)}
}

// jsonOrNull stores an absent value, and a JSON null, as SQL NULL, so that
// "before IS NULL" finds creations.
func jsonOrNull(raw json.RawMessage) any {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

func scanEntry(r pgx.Row) (Entry, error) {
	var (
		e                     Entry
		before, after, detail []byte
	)
	err := r.Scan(&e.ID, &e.OccurredAt, &e.Actor.ID, &e.Actor.Name, &e.Actor.Roles, &e.Action, &e.TargetType,
		&e.TargetID, &e.RequestID, &e.ClientRequestID, &before, &after, &detail)
	if err != nil {
		return Entry{}, err
	}
	e.OccurredAt = e.OccurredAt.UTC()
	if e.Actor.Roles == nil {
		e.Actor.Roles = []string{}
	}
	e.Before, e.After, e.Detail = rawOrNil(before), rawOrNil(after), rawOrNil(detail)
	return e, nil
}

func rawOrNil(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}
