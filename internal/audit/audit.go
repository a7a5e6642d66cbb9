// Package audit keeps the audit log: who changed what through the admin API,
// when, under which request, and the target as it stood before and after.
// The log is append-only; retention is left to operators.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	ActionUserUpsert          Action = "user.upsert"
	ActionUserImport          Action = "user.import"
)

// Actions lists every action, for validating filters.
var Actions = []Action{ActionBroadcastCreate, ActionBroadcastSchedule, ActionBroadcastReschedule,
	ActionBroadcastCancel, ActionUserUpsert, ActionUserImport}

// Valid reports whether a is one of Actions.
func (a Action) Valid() bool { return slices.Contains(Actions, a) }

// TargetType names the kind of thing an action changed.
type TargetType string

// The target types.
const (
	TargetBroadcast TargetType = "broadcast"
	TargetUser      TargetType = "user"
)

// TargetTypes lists every target type, for validating filters.
var TargetTypes = []TargetType{TargetBroadcast, TargetUser}

// Valid reports whether t is one of TargetTypes.
func (t TargetType) Valid() bool { return slices.Contains(TargetTypes, t) }

// Actor is who made a change: the verified claims of their token.
type Actor struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// Entry is one recorded change.
type Entry struct {
	// ID orders entries: an entry recorded later has a greater id. Set by
	// the database.
	ID int64 `json:"id"`
	// OccurredAt is when the entry was recorded, in UTC. Set by the
	// database.
	OccurredAt time.Time  `json:"occurred_at"`
	Actor      Actor      `json:"actor"`
	Action     Action     `json:"action"`
	TargetType TargetType `json:"target_type"`
	// TargetID is empty when the action has no single target (an import).
	TargetID string `json:"target_id,omitempty"`
	// RequestID is the X-Request-Id of the request that made the change.
	RequestID string `json:"request_id,omitempty"`
	// Before and After are the target as the API shows it; nil (JSON null)
	// when there is none, such as Before of a creation.
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	// Detail summarises what Before and After cannot show, such as an
	// import's count; nil when there is nothing to add.
	Detail json.RawMessage `json:"detail"`
}

// Log records and lists audit entries in PostgreSQL.
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
	coalesce(target_id, ''), coalesce(request_id, ''), before, after, detail`

// Record appends e to the log. e's ID and OccurredAt are ignored: the
// database sets them.
func (l *Log) Record(ctx context.Context, e Entry) error {
	switch {
	case e.Actor.ID == "":
		return errors.New("audit: an entry needs an actor")
	case !e.Action.Valid():
		return fmt.Errorf("audit: action %q is not one of %v", e.Action, Actions)
	case !e.TargetType.Valid():
		return fmt.Errorf("audit: target type %q is not one of %v", e.TargetType, TargetTypes)
	}
	roles := e.Actor.Roles
	if roles == nil {
		roles = []string{}
	}
	_, err := l.pool.Exec(ctx, `
		INSERT INTO audit_log (actor_id, actor_name, actor_roles, action, target_type, target_id, request_id, before, after, detail)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), NULLIF($7, ''), $8, $9, $10)`,
		e.Actor.ID, e.Actor.Name, roles, e.Action, e.TargetType, e.TargetID, e.RequestID,
		jsonOrNull(e.Before), jsonOrNull(e.After), jsonOrNull(e.Detail))
	if err != nil {
		return fmt.Errorf("record audit entry %s of %s %q: %w", e.Action, e.TargetType, e.TargetID, err)
	}
	return nil
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
		&e.TargetID, &e.RequestID, &before, &after, &detail)
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
