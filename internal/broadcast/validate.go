package broadcast

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crier/crier/internal/window"
)

// Limits on what a broadcast may hold. They keep one broadcast small enough to
// travel as one Kafka message and to render in any client.
const (
	MaxTitleChars    = 200
	MaxContentBytes  = 64 << 10
	MaxCategoryChars = 64
	MaxTargetIDs     = 10_000
	MaxTargetIDChars = 256
	MaxScheduleAhead = 365 * 24 * time.Hour
)

// Precision is the resolution of stored times (PostgreSQL keeps
// microseconds). Request times are truncated to it before they are compared,
// so two times that differ by less cannot pass validation and then collide
// in the database.
const Precision = time.Microsecond

// Storable reports whether s can be stored as text: valid UTF-8 without NUL
// characters, which PostgreSQL refuses.
func Storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// MaxQuotedBytes is how much of a client's value an error message quotes:
// enough to recognise it, never enough to make an answer grow with its input.
const MaxQuotedBytes = 64

// Quote is s quoted for an error message (Go syntax, as %q), cut to
// MaxQuotedBytes with an ellipsis.
func Quote(s string) string { return strconv.Quote(Cut(s, MaxQuotedBytes)) }

// Cut is s cut to at most n bytes, on a character boundary, with "…" added
// when something was cut.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// FieldError is one reason a request was refused, tied to the field at fault.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every reason a request was refused, so a person can
// fix them all at once.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Field + ": " + fe.Message
	}
	return "invalid broadcast: " + strings.Join(msgs, "; ")
}

func (e *ValidationError) add(field, format string, args ...any) {
	e.Errors = append(e.Errors, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (e *ValidationError) orNil() error {
	if len(e.Errors) == 0 {
		return nil
	}
	return e
}

// DefaultSendNowTolerance is Rules.SendNowTolerance when none is configured
// (CRIER_SEND_NOW_TOLERANCE), and the tolerance of a broadcast's workflow
// started before its input carried one.
const DefaultSendNowTolerance = 5 * time.Second

// Rules are the time-dependent parts of validation.
type Rules struct {
	// Now is the current time.
	Now time.Time
	// SendNowTolerance is how far in the past a scheduled_at may lie and still
	// mean "send now" (clocks and slow clients drift). Default
	// DefaultSendNowTolerance.
	SendNowTolerance time.Duration
	// DefaultExpiry is how long a broadcast given no expires_at stays up.
	// Default 30 days.
	DefaultExpiry time.Duration
}

func (r Rules) withDefaults() Rules {
	r.Now = r.Now.UTC().Truncate(Precision)
	if r.SendNowTolerance <= 0 {
		r.SendNowTolerance = DefaultSendNowTolerance
	}
	if r.DefaultExpiry <= 0 {
		r.DefaultExpiry = 30 * 24 * time.Hour
	}
	return r
}

// Spec is what an admin chooses when creating a broadcast.
type Spec struct {
	Title       string
	Content     string
	Category    string
	Priority    Priority
	Target      Target
	ScheduledAt *time.Time
	ExpiresAt   *time.Time
	// DeliveryWindow, when set, is when publication may happen: a
	// scheduled_at outside it moves to its next opening.
	DeliveryWindow *window.Window
	// LocalTime, when set instead of ScheduledAt, is the wall-clock time the
	// broadcast reaches each recipient at in their own zone, DefaultTimeZone
	// (default DefaultTimeZone) for those whose zone nobody knows. PlanWaves
	// then fixes ScheduledAt and the waves from the recipients' zones.
	LocalTime       *LocalTime
	DefaultTimeZone string
	Waves           []Wave

	// expiryDefaulted is set when Normalize chose expires_at, which
	// PlanWaves then counts from the last wave.
	expiryDefaulted bool
	rules           Rules
}

// Normalize validates s and fills its defaults: priority NORMAL, category
// "general", times in UTC, scheduled_at now when absent or only just past,
// expires_at DefaultExpiry after scheduled_at when absent. A draft keeps
// absent times absent: they are chosen when it is scheduled.
func (s *Spec) Normalize(r Rules, draft bool) error {
	r = r.withDefaults()
	var v ValidationError

	s.Title = strings.TrimSpace(s.Title)
	switch n := utf8.RuneCountInString(s.Title); {
	case !Storable(s.Title):
		v.add("title", "must be valid UTF-8 without NUL characters")
	case n == 0:
		v.add("title", "must not be empty")
	case n > MaxTitleChars:
		v.add("title", "must be at most %d characters, got %d", MaxTitleChars, n)
	}
	switch {
	case strings.TrimSpace(s.Content) == "":
		v.add("content", "must not be empty")
	case len(s.Content) > MaxContentBytes:
		v.add("content", "must be at most %d bytes (64 KiB), got %d", MaxContentBytes, len(s.Content))
	case !Storable(s.Content):
		v.add("content", "must be valid UTF-8 without NUL characters")
	}
	s.Category = strings.TrimSpace(s.Category)
	if s.Category == "" {
		s.Category = "general"
	}
	if fault := CategoryFault(s.Category); fault != "" {
		v.add("category", "%s", fault)
	}
	if s.Priority == "" {
		s.Priority = PriorityNormal
	}
	if !slices.Contains(Priorities, s.Priority) {
		v.add("priority", "must be one of LOW, NORMAL, HIGH, URGENT, got %s", Quote(string(s.Priority)))
	}
	s.Target = normalizeTarget(s.Target, &v)

	s.normalizeTimes(&v, r, draft)
	return v.orNil()
}

// normalizeTimes is Normalize's part for scheduled_at, the delivery window
// and expires_at.
func (s *Spec) normalizeTimes(v *ValidationError, r Rules, draft bool) {
	if s.LocalTime != nil {
		s.normalizeLocalTime(v, r, draft)
		return
	}
	if s.ScheduledAt != nil {
		at := s.ScheduledAt.UTC().Truncate(Precision)
		switch {
		case at.Before(r.Now.Add(-r.SendNowTolerance)):
			v.add("scheduled_at", "is %s in the past; leave it out to send now", r.Now.Sub(at).Round(time.Second))
		case at.After(r.Now.Add(MaxScheduleAhead)):
			v.add("scheduled_at", "must be at most a year ahead")
		case at.Before(r.Now):
			at = r.Now
		}
		s.ScheduledAt = &at
	} else if !draft {
		now := r.Now
		s.ScheduledAt = &now
	}
	var asked *time.Time
	if s.DeliveryWindow != nil {
		if s.ScheduledAt != nil {
			at := *s.ScheduledAt
			asked = &at
		}
		w := applyWindow(v, s.DeliveryWindow, s.ScheduledAt)
		s.DeliveryWindow = &w
	}
	if s.ExpiresAt != nil {
		at := s.ExpiresAt.UTC().Truncate(Precision)
		s.ExpiresAt = &at
		if asked != nil && !asked.Equal(*s.ScheduledAt) && at.After(r.Now) && !at.After(*s.ScheduledAt) {
			v.add("delivery_window", "opens next at %s, not before expires_at (%s): the broadcast would expire unpublished; "+
				"widen the window or give a later expires_at", s.ScheduledAt.Format(time.RFC3339), at.Format(time.RFC3339))
		} else {
			checkExpiry(v, r.Now, s.ScheduledAt, at)
		}
	} else if s.ScheduledAt != nil && !draft {
		at := s.ScheduledAt.Add(r.DefaultExpiry)
		s.ExpiresAt = &at
	}
}

// normalizeLocalTime is normalizeTimes for a broadcast given local_time. Its
// scheduled_at until PlanWaves runs is its instant in the default zone.
func (s *Spec) normalizeLocalTime(v *ValidationError, r Rules, draft bool) {
	s.rules = r
	switch {
	case s.ScheduledAt != nil:
		v.add("local_time", "give scheduled_at or local_time, not both")
	case s.DeliveryWindow != nil:
		v.add("local_time", "cannot be combined with delivery_window: each recipient's local time is the window")
	case draft:
		v.add("local_time", "a draft cannot have one yet: create the broadcast with it when it is ready")
	}
	if s.DefaultTimeZone == "" {
		s.DefaultTimeZone = DefaultTimeZone
	}
	loc, ok := Zone(s.DefaultTimeZone)
	if !ok {
		v.add("default_time_zone", "must be an IANA time zone such as Europe/Berlin, got %s", Quote(s.DefaultTimeZone))
		loc = time.UTC
	}
	at := s.LocalTime.In(loc)
	s.ScheduledAt = &at
	// Recipients' zones span from UTC+14 to UTC-12: the local time has
	// passed everywhere once it has at UTC-12.
	switch {
	case s.LocalTime.Wall().Add(12 * time.Hour).Before(r.Now.Add(-r.SendNowTolerance)):
		v.add("local_time", "has passed in every time zone; give a later one")
	case at.After(r.Now.Add(MaxScheduleAhead)):
		v.add("local_time", "must be at most a year ahead")
	}
	if s.ExpiresAt == nil {
		s.expiryDefaulted = true
		return
	}
	exp := s.ExpiresAt.UTC().Truncate(Precision)
	s.ExpiresAt = &exp
	if !exp.After(r.Now) {
		v.add("expires_at", "is in the past")
	}
}

// PlanWaves plans a local-time broadcast's waves from the zones of its
// recipients ("" for those without one), as PlanWaves does, and sets
// ScheduledAt to the first wave's instant and a defaulted expires_at to
// DefaultExpiry after the last. A zone whose instant comes only after
// expires_at, or none left to send to, is a *ValidationError. It does
// nothing for a broadcast without local time.
func (s *Spec) PlanWaves(zones []string) error {
	if s.LocalTime == nil {
		return nil
	}
	r := s.rules.withDefaults()
	var notAfter time.Time
	if !s.expiryDefaulted {
		notAfter = *s.ExpiresAt
	}
	waves, dropped := PlanWaves(*s.LocalTime, s.DefaultTimeZone, zones, r.Now, notAfter)
	var v ValidationError
	if len(dropped) > 0 {
		v.add("expires_at", "comes before local_time in %s: those recipients would never receive it; give a later expires_at",
			strings.Join(dropped, ", "))
		return &v
	}
	s.Waves = waves
	first := waves[0].At
	s.ScheduledAt = &first
	if s.expiryDefaulted {
		exp := waves[len(waves)-1].At.Add(r.DefaultExpiry)
		s.ExpiresAt = &exp
	}
	return nil
}

// applyWindow checks w, and moves *at (when set) to the window's next
// opening: the effective time of publication.
func applyWindow(v *ValidationError, w *window.Window, at *time.Time) window.Window {
	c, problems := w.Compile("delivery_window")
	for _, p := range problems {
		v.add(p.Field, "%s", p.Message)
	}
	if len(problems) == 0 && at != nil {
		*at = c.NextOpening(*at).UTC()
	}
	return c.Window
}

// CategoryFault says what keeps category (already trimmed) from being a
// broadcast's category, or "" when nothing does. Normalize and the list's
// category filter both ask it, so a filter accepts exactly the categories a
// broadcast can have.
func CategoryFault(category string) string {
	if n := utf8.RuneCountInString(category); n > MaxCategoryChars {
		return fmt.Sprintf("must be at most %d characters, got %d", MaxCategoryChars, n)
	}
	if !Storable(category) {
		return "must be valid UTF-8 without NUL characters"
	}
	return ""
}

// NormalizeTarget validates t as Normalize validates a broadcast's target
// and returns it with its ids trimmed and deduplicated, or a
// *ValidationError naming target.type, target.ids or target.ids[i]. It lets
// a target be checked on its own (to count its audience before sending)
// by the very rule a broadcast's is.
func NormalizeTarget(t Target) (Target, error) {
	var v ValidationError
	t = normalizeTarget(t, &v)
	return t, v.orNil()
}

func normalizeTarget(t Target, v *ValidationError) Target {
	if !slices.Contains(TargetTypes, t.Type) {
		if t.Type == "" {
			v.add("target.type", "is required: one of ALL, ROLE, SELECTED")
		} else {
			v.add("target.type", "must be one of ALL, ROLE, SELECTED, got %s", Quote(string(t.Type)))
		}
		return t
	}
	if t.Type == TargetAll {
		if len(t.IDs) > 0 {
			v.add("target.ids", "must be empty when target.type is ALL")
		}
		t.IDs = []string{}
		return t
	}
	if len(t.IDs) == 0 {
		v.add("target.ids", "must name at least one id when target.type is %s", t.Type)
		return t
	}
	seen := make(map[string]bool, len(t.IDs))
	ids := make([]string, 0, len(t.IDs))
	for i, id := range t.IDs {
		id = strings.TrimSpace(id)
		switch {
		case id == "":
			v.add(fmt.Sprintf("target.ids[%d]", i), "must not be empty")
		case !Storable(id):
			v.add(fmt.Sprintf("target.ids[%d]", i), "must be valid UTF-8 without NUL characters")
		case utf8.RuneCountInString(id) > MaxTargetIDChars:
			v.add(fmt.Sprintf("target.ids[%d]", i), "must be at most %d characters", MaxTargetIDChars)
		case !seen[id]:
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) > MaxTargetIDs {
		v.add("target.ids", "must name at most %d distinct ids, got %d", MaxTargetIDs, len(ids))
	}
	t.IDs = ids
	return t
}

func checkExpiry(v *ValidationError, now time.Time, scheduledAt *time.Time, expiresAt time.Time) {
	switch {
	case !expiresAt.After(now):
		v.add("expires_at", "is in the past")
	case scheduledAt != nil && !expiresAt.After(*scheduledAt):
		v.add("expires_at", "must be after scheduled_at (%s)", scheduledAt.Format(time.RFC3339))
	}
}

// Change is a new schedule for an existing broadcast: either time or both.
type Change struct {
	ScheduledAt *time.Time `json:"scheduled_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// ErrScheduledInPast is the reason a change is refused when its scheduled_at
// has already passed: the broadcast cannot be sent in the past. It is a
// conflict with the clock rather than a malformed request.
var ErrScheduledInPast = fmt.Errorf("the new scheduled_at has already passed; give a time in the future")

// Normalize validates c against the broadcast it changes and converts its
// times to UTC. A scheduled_at in the past is reported as ErrScheduledInPast,
// every other fault as a *ValidationError.
func (c *Change) Normalize(r Rules, current Broadcast) error {
	r = r.withDefaults()
	var v ValidationError
	if c.ScheduledAt == nil && c.ExpiresAt == nil {
		v.add("scheduled_at", "give scheduled_at, expires_at or both")
		return &v
	}
	if c.ScheduledAt != nil && current.LocalTime != nil {
		v.add("scheduled_at", "cannot move a broadcast sent at each recipient's local_time (%s); cancel it and create it again with the new local_time",
			current.LocalTime)
		return &v
	}
	scheduledAt := current.ScheduledAt
	if c.ScheduledAt != nil {
		at := c.ScheduledAt.UTC().Truncate(Precision)
		if at.Before(r.Now) && !at.Before(r.Now.Add(-r.SendNowTolerance)) {
			at = r.Now // only just past: now, as on create
		}
		if current.DeliveryWindow != nil {
			applyWindow(&v, current.DeliveryWindow, &at) // the broadcast's window still holds
		}
		c.ScheduledAt = &at
		if at.After(r.Now.Add(MaxScheduleAhead)) {
			v.add("scheduled_at", "must be at most a year ahead")
		}
		scheduledAt = &at
	}
	if c.ExpiresAt != nil {
		at := c.ExpiresAt.UTC().Truncate(Precision)
		c.ExpiresAt = &at
		checkExpiry(&v, r.Now, scheduledAt, at)
	} else if c.ScheduledAt != nil && current.ExpiresAt != nil && !current.ExpiresAt.After(*c.ScheduledAt) {
		v.add("scheduled_at", "must be before expires_at (%s); give a new expires_at too", current.ExpiresAt.Format(time.RFC3339))
	}
	if err := v.orNil(); err != nil {
		return err
	}
	if c.ScheduledAt != nil && c.ScheduledAt.Before(r.Now) {
		return ErrScheduledInPast
	}
	return nil
}
