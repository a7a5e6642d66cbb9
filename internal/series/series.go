package series

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/window"
)

// Status is where a series stands.
type Status string

// The statuses.
const (
	// StatusActive: its schedule makes occurrences.
	StatusActive Status = "ACTIVE"
	// StatusPaused: its schedule makes none until it is resumed; a trigger
	// still makes one.
	StatusPaused Status = "PAUSED"
	// StatusCancelled: an admin ended it; its schedule is gone.
	StatusCancelled Status = "CANCELLED"
	// StatusEnded: it reached its count; its schedule is gone.
	StatusEnded Status = "ENDED"
)

// Statuses lists every status.
var Statuses = []Status{StatusActive, StatusPaused, StatusCancelled, StatusEnded}

// Operation is a change of a series.
type Operation string

// The operations.
const (
	OpPause   Operation = "pause"
	OpResume  Operation = "resume"
	OpCancel  Operation = "cancel"
	OpEnd     Operation = "end"
	OpUpdate  Operation = "update"
	OpOccur   Operation = "occur"
	OpTrigger Operation = "trigger"
)

// Transition is what an operation may start from and leads to; an empty To
// keeps the status.
type Transition struct {
	From []Status
	To   Status
}

// Transitions is the series' lifecycle, written once: the store's guarded
// statements and the API's refusals both read it.
var Transitions = map[Operation]Transition{
	OpPause:   {From: []Status{StatusActive}, To: StatusPaused},
	OpResume:  {From: []Status{StatusPaused}, To: StatusActive},
	OpCancel:  {From: []Status{StatusActive, StatusPaused}, To: StatusCancelled},
	OpEnd:     {From: []Status{StatusActive, StatusPaused}, To: StatusEnded},
	OpUpdate:  {From: []Status{StatusActive, StatusPaused}},
	OpOccur:   {From: []Status{StatusActive, StatusPaused}},
	OpTrigger: {From: []Status{StatusActive, StatusPaused}},
}

// Allows reports whether op may start from s.
func Allows(op Operation, s Status) bool { return slices.Contains(Transitions[op].From, s) }

// From lists the statuses op may start from, for SQL.
func From(op Operation) []string {
	out := make([]string, len(Transitions[op].From))
	for i, s := range Transitions[op].From {
		out[i] = string(s)
	}
	return out
}

// Terminal reports whether nothing more can happen to a series in s.
func (s Status) Terminal() bool { return s == StatusCancelled || s == StatusEnded }

// DefaultCatchupWindow is how late a series' occurrence may still be made
// (CRIER_SERIES_CATCHUP_WINDOW): one its schedule comes to later, after an
// outage of Temporal or of every worker, is skipped and recorded, never
// sent late without saying so.
const DefaultCatchupWindow = 10 * time.Minute

// MinCatchupWindow is the shortest catch-up window: Temporal's own least.
const MinCatchupWindow = 10 * time.Second

// CatchupWindow is the window d configures: DefaultCatchupWindow for none,
// at least MinCatchupWindow.
func CatchupWindow(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultCatchupWindow
	}
	return max(d, MinCatchupWindow)
}

// DefaultExpiresAfter is each occurrence's lifetime when a series gives
// none: a day, so a daily announcement is replaced, not piled up.
const DefaultExpiresAfter = 24 * time.Hour

// Series is a recurring broadcast: the template each occurrence is made
// from, and when they fall.
type Series struct {
	ID           uuid.UUID          `json:"id"`
	Status       Status             `json:"status"`
	Sender       broadcast.Sender   `json:"sender"`
	Title        string             `json:"title"`
	Content      string             `json:"content"`
	Category     string             `json:"category"`
	Priority     broadcast.Priority `json:"priority"`
	Target       broadcast.Target   `json:"target"`
	Recurrence   Recurrence         `json:"recurrence"`
	ExpiresAfter Duration           `json:"expires_after"`
	// DeliveryWindow, when set, holds each occurrence to its days and
	// hours: one due outside it is published at its next opening, and one
	// that would expire first is skipped.
	DeliveryWindow *window.Window `json:"delivery_window,omitempty"`
	// ScheduleID is the Temporal Schedule that makes the occurrences.
	ScheduleID string `json:"schedule_id"`
	// Occurrences counts the occurrences made; Skipped those its schedule
	// came to later than the catch-up window allows, never sent.
	Occurrences      int        `json:"occurrences"`
	LastOccurrenceAt *time.Time `json:"last_occurrence_at"`
	Skipped          int        `json:"skipped"`
	LastSkippedAt    *time.Time `json:"last_skipped_at"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	CancelledAt      *time.Time `json:"cancelled_at"`
	EndedAt          *time.Time `json:"ended_at"`
	// Next are the next occurrences' times (GET of one series only).
	Next []Upcoming `json:"next_occurrences,omitempty"`
}

// Upcoming is one coming occurrence: when, in UTC and in the series' zone.
type Upcoming struct {
	At    time.Time `json:"at"`
	Local string    `json:"local"`
}

// ScheduleID is the Temporal Schedule id of the series id.
func ScheduleID(id uuid.UUID) string { return "series:" + id.String() }

// occurrenceNamespace derives occurrence ids.
var occurrenceNamespace = uuid.MustParse("1b0f7c2e-53a4-4d2b-8f6e-6a7c1e9d4b35")

// OccurrenceID is the broadcast id of the occurrence of series id named
// key (Compiled.Occurrence): every action that names it names one
// broadcast.
func OccurrenceID(id uuid.UUID, key string) uuid.UUID {
	return uuid.NewSHA1(occurrenceNamespace, []byte(id.String()+"\x00"+key))
}

// Duration is a length of time written as Go writes durations ("24h",
// "90m"), shortened: "24h", not "24h0m0s".
type Duration time.Duration

// MarshalText writes d shortened.
func (d Duration) MarshalText() ([]byte, error) {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return []byte(s), nil
}

// UnmarshalText reads a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return &DurationError{Value: string(b)}
	}
	*d = Duration(v)
	return nil
}

// DurationError is a duration that does not parse.
type DurationError struct{ Value string }

func (e *DurationError) Error() string {
	return broadcast.Quote(e.Value) + ` is not a duration; write it like "30m", "24h" or "168h"`
}
