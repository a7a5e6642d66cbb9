package api

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/window"
)

// bodyMediaType is the media type of the request's body, lower case and
// without parameters, or "" when the body is empty (an empty body needs no
// Content-Type). A body without a Content-Type, or with one that does not
// parse, is refused with 415: a page on any site can send such a body, or a
// text/plain one, without a CORS preflight.
func bodyMediaType(r *http.Request) (string, error) {
	if bodyEmpty(r) {
		return "", nil
	}
	header := r.Header.Get(echo.HeaderContentType)
	if header == "" {
		return "", problem(http.StatusUnsupportedMediaType, "the body has no Content-Type; send it as JSON with Content-Type: application/json")
	}
	media, _, err := mime.ParseMediaType(header)
	if err != nil {
		return "", problem(http.StatusUnsupportedMediaType, "Content-Type %s does not parse; send the body as JSON with Content-Type: application/json", broadcast.Quote(header))
	}
	return media, nil
}

// isJSONMediaType reports whether media is JSON: application/json, or a
// structured type such as application/problem+json.
func isJSONMediaType(media string) bool {
	return media == echo.MIMEApplicationJSON || strings.HasPrefix(media, "application/") && strings.HasSuffix(media, "+json")
}

// notJSON is the 415 answer to a body of another type.
func notJSON(r *http.Request) *Problem {
	return problem(http.StatusUnsupportedMediaType, "send the body as JSON with Content-Type: application/json, not %s",
		broadcast.Quote(r.Header.Get(echo.HeaderContentType)))
}

// bodyEmpty reports whether the request has no body. When the length is not
// known it reads one byte, and puts it back.
func bodyEmpty(r *http.Request) bool {
	if r.ContentLength > 0 {
		return false
	}
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	var first [1]byte
	n, _ := io.ReadFull(r.Body, first[:])
	if n == 0 {
		return true
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(first[:n]), r.Body), r.Body}
	return false
}

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
		return &timeParseError{value: cutInput(string(b))}
	}
	parsed, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return &timeParseError{value: broadcast.Quote(s)}
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
	// DeliveryWindow, when set, holds publication to its days and hours.
	DeliveryWindow *window.Window `json:"delivery_window,omitempty"`
	// LocalTime, instead of scheduled_at, sends at this wall-clock time in
	// each recipient's zone; DefaultTimeZone is the zone of those nobody
	// knows the zone of.
	LocalTime       *broadcast.LocalTime `json:"local_time,omitempty"`
	DefaultTimeZone string               `json:"default_time_zone,omitempty"`
}

type targetRequest struct {
	Type broadcast.TargetType `json:"type"`
	IDs  []string             `json:"ids"`
}

func (r createRequest) spec() broadcast.Spec {
	s := broadcast.Spec{
		Title: r.Title, Content: r.Content, Category: r.Category, Priority: r.Priority,
		ScheduledAt: r.ScheduledAt.ptr(), ExpiresAt: r.ExpiresAt.ptr(), DeliveryWindow: r.DeliveryWindow,
		LocalTime: r.LocalTime, DefaultTimeZone: r.DefaultTimeZone,
	}
	s.Target = r.Target.target()
	return s
}

// target is the requested target; none (nil) is the zero Target, which
// validation refuses as having no type.
func (r *targetRequest) target() broadcast.Target {
	if r == nil {
		return broadcast.Target{}
	}
	return broadcast.Target{Type: r.Type, IDs: r.IDs}
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
