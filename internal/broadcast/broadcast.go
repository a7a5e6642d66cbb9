package broadcast

import (
	"time"

	"github.com/crier/crier/internal/window"
	"github.com/google/uuid"
)

// Status is where a broadcast stands in its lifecycle (Transitions).
type Status string

// The lifecycle statuses.
const (
	StatusDraft     Status = "DRAFT"
	StatusScheduled Status = "SCHEDULED"
	// StatusInProgress is a local-time broadcast between its first wave
	// and its last: it has reached recipients in some zones, not yet all.
	StatusInProgress Status = "IN_PROGRESS"
	StatusSent       Status = "SENT"
	StatusExpired    Status = "EXPIRED"
	StatusCancelled  Status = "CANCELLED"
	StatusFailed     Status = "FAILED"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{StatusDraft, StatusScheduled, StatusInProgress, StatusSent, StatusExpired, StatusCancelled, StatusFailed}

// Terminal reports whether no transition leaves s.
func (s Status) Terminal() bool { return Transitions.Terminal(s) }

// Published reports whether s is a status publication leads to (at once,
// or over a local-time broadcast's waves), so clients may have seen the
// broadcast.
func (s Status) Published() bool {
	return s == Transitions[OpPublish].To || s == Transitions[OpBeginWaves].To
}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	for _, known := range Statuses {
		if s == known {
			return true
		}
	}
	return false
}

// Priority tells clients how prominently to show a broadcast.
type Priority string

// The priorities, lowest first.
const (
	PriorityLow    Priority = "LOW"
	PriorityNormal Priority = "NORMAL"
	PriorityHigh   Priority = "HIGH"
	PriorityUrgent Priority = "URGENT"
)

// Priorities lists every priority, lowest first.
var Priorities = []Priority{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}

// TargetType says who receives a broadcast.
type TargetType string

// The target types.
const (
	TargetAll      TargetType = "ALL"      // every user
	TargetRole     TargetType = "ROLE"     // users holding one of Target.IDs as a role
	TargetSelected TargetType = "SELECTED" // the users whose ids are Target.IDs
)

// TargetTypes lists every target type.
var TargetTypes = []TargetType{TargetAll, TargetRole, TargetSelected}

// Target is the audience of a broadcast.
type Target struct {
	Type TargetType `json:"type"`
	IDs  []string   `json:"ids"`
}

// Sender is who created a broadcast: always the subject of the caller's token.
type Sender struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Broadcast is one announcement and its lifecycle. It is the one object every
// API answer and every event carries, so clients learn one shape.
type Broadcast struct {
	ID          uuid.UUID  `json:"id"`
	Status      Status     `json:"status"`
	Sender      Sender     `json:"sender"`
	Title       string     `json:"title"`
	Content     string     `json:"content"`
	Category    string     `json:"category"`
	Priority    Priority   `json:"priority"`
	Target      Target     `json:"target"`
	ScheduledAt *time.Time `json:"scheduled_at"` // nil only for a draft given no time yet
	ExpiresAt   *time.Time `json:"expires_at"`   // nil only for a draft given no time yet
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	PublishedAt *time.Time `json:"published_at"`
	ExpiredAt   *time.Time `json:"expired_at"`
	CancelledAt *time.Time `json:"cancelled_at"`
	// FailureReason says why publication failed; set only when Status is FAILED.
	FailureReason string `json:"failure_reason,omitempty"`
	WorkflowID    string `json:"workflow_id"`
	// SeriesID and OccurrenceAt are set on an occurrence of a series only:
	// the series, and the time its schedule made the occurrence for.
	SeriesID     *uuid.UUID `json:"series_id,omitempty"`
	OccurrenceAt *time.Time `json:"occurrence_at,omitempty"`
	// DeliveryWindow, when set, is when publication may happen; ScheduledAt
	// is then the effective time, at or after the one asked for.
	DeliveryWindow *window.Window `json:"delivery_window,omitempty"`
	// LocalTime, when set, is the wall-clock time the broadcast reaches each
	// recipient at in their own zone (DefaultTimeZone for those whose zone
	// nobody knows). ScheduledAt is then its first wave's instant, and
	// Waves its publication plan: one wave per distinct instant among its
	// recipients' zones, WavesSent of them sent so far.
	LocalTime       *LocalTime `json:"local_time,omitempty"`
	DefaultTimeZone string     `json:"default_time_zone,omitempty"`
	Waves           []Wave     `json:"waves,omitempty"`
	WavesSent       int        `json:"waves_sent,omitempty"`
}

// WorkflowID is the Temporal workflow id of the broadcast with the given id.
// Deriving it from the broadcast id is what makes starting a broadcast
// idempotent: a retried start finds the workflow that already runs.
func WorkflowID(id uuid.UUID) string {
	return "broadcast:" + id.String()
}
