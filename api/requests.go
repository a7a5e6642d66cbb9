package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/crier/crier/internal/broadcast"
)

// Time is an RFC 3339 time in a request body, with any offset. It decodes
// with an error message that says what is expected.
type Time struct{ time.Time }

type timeParseError struct{ value string }

func (e *timeParseError) Error() string { return "bad time " + e.value }

func (e *timeParseError) problem() *Problem {
	return problem(http.StatusBadRequest, "%s is not an RFC 3339 time; write it like 2026-12-01T09:00:00Z or 2026-12-01T10:00:00+01:00", e.value)
}

// UnmarshalJSON accepts an RFC 3339 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &timeParseError{value: string(b)}
	}
	parsed, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return &timeParseError{value: fmt.Sprintf("%q", s)}
	}
	t.Time = parsed
	return nil
}

func (t *Time) ptr() *time.Time {
	if t == nil {
		return nil
	}
	v := t.Time
	return &v
}

// createRequest is the body of POST /broadcasts.
type createRequest struct {
	Title       string             `json:"title"`
	Content     string             `json:"content"`
	Category    string             `json:"category,omitempty"`
	Priority    broadcast.Priority `json:"priority,omitempty"`
	Target      *targetRequest     `json:"target"`
	ScheduledAt *Time              `json:"scheduled_at,omitempty"`
	ExpiresAt   *Time              `json:"expires_at,omitempty"`
	Draft       bool               `json:"draft,omitempty"`
}

type targetRequest struct {
	Type broadcast.TargetType `json:"type"`
	IDs  []string             `json:"ids"`
}

func (r createRequest) spec() broadcast.Spec {
	s := broadcast.Spec{
		Title: r.Title, Content: r.Content, Category: r.Category, Priority: r.Priority,
		ScheduledAt: r.ScheduledAt.ptr(), ExpiresAt: r.ExpiresAt.ptr(),
	}
	if r.Target != nil {
		s.Target = broadcast.Target{Type: r.Target.Type, IDs: r.Target.IDs}
	}
	return s
}

// timesRequest is the body of reschedule and schedule: either time or both.
type timesRequest struct {
	ScheduledAt *Time `json:"scheduled_at,omitempty"`
	ExpiresAt   *Time `json:"expires_at,omitempty"`
}

func (r timesRequest) change() broadcast.Change {
	return broadcast.Change{ScheduledAt: r.ScheduledAt.ptr(), ExpiresAt: r.ExpiresAt.ptr()}
}

// listResponse is a page of broadcasts.
type listResponse struct {
	Items      []broadcast.Broadcast `json:"items"`
	NextCursor string                `json:"next_cursor,omitempty"`
}
