package series

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/crier/crier/internal/broadcast"
)

// Limits of a recurrence.
const (
	// MinEvery is the shortest interval between occurrences.
	MinEvery = time.Minute
	// MaxEvery is the longest interval: a broadcast may be scheduled at most
	// a year ahead, and so may a series' next occurrence.
	MaxEvery = broadcast.MaxScheduleAhead
	// MaxCount is the most occurrences a bounded series may have.
	MaxCount = 100_000
)

// Recurrence is when a series' occurrences fall: a five-field cron
// expression read in TimeZone, or a fixed interval, within optional bounds.
type Recurrence struct {
	// Cron is a standard five-field cron expression (minute hour
	// day-of-month month day-of-week, names such as MON-FRI allowed) or one
	// of @yearly, @monthly, @weekly, @daily, @hourly. It is a wall-clock
	// time in TimeZone: "0 9 * * *" is 09:00 there, summer and winter.
	Cron string `json:"cron,omitempty"`
	// Every is a fixed interval of real time, such as "6h" or "90m", counted
	// from StartsAt (or from when the series was created).
	Every string `json:"every,omitempty"`
	// TimeZone is the IANA zone Cron is read in. Default "UTC".
	TimeZone string `json:"time_zone,omitempty"`
	// StartsAt, when set, is the earliest occurrence; EndsAt the latest.
	StartsAt *time.Time `json:"starts_at,omitempty"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	// Count, when set, ends the series after that many occurrences.
	Count int `json:"count,omitempty"`
}

// Compiled is a valid recurrence, ready to be matched and turned into a
// Temporal schedule spec.
type Compiled struct {
	Recurrence
	// Location is TimeZone loaded.
	Location *time.Location
	// Interval is Every parsed; zero for a cron recurrence.
	Interval time.Duration
	// spec is Cron parsed; nil for an interval.
	spec *cron.SpecSchedule
}

// cronParser reads the standard five fields and the descriptors; seconds,
// a TZ= prefix and @every are not accepted (time_zone and every say those).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Compile validates r against now, fills its defaults (the zone UTC, times
// in UTC) and reports every problem at once, each under field (such as
// "recurrence.cron").
func (r Recurrence) Compile(now time.Time) (Compiled, []broadcast.FieldError) {
	var errs fieldErrors
	r.Cron, r.Every, r.TimeZone = strings.TrimSpace(r.Cron), strings.TrimSpace(r.Every), strings.TrimSpace(r.TimeZone)
	c := Compiled{Location: time.UTC}
	switch {
	case r.Cron == "" && r.Every == "":
		errs.add("recurrence", `needs a cron ("0 9 * * MON-FRI") or an interval (every: "6h")`)
	case r.Cron != "" && r.Every != "":
		errs.add("recurrence", "give cron or every, not both")
	case r.Cron != "":
		c.spec = compileCron(r.Cron, &errs)
	default:
		c.Interval = compileEvery(r.Every, &errs)
	}
	if r.TimeZone == "" {
		r.TimeZone = "UTC"
	}
	if loc, err := loadZone(r.TimeZone); err != nil {
		errs.add("recurrence.time_zone", "%s is not an IANA time zone (like Europe/Berlin or America/New_York)", broadcast.Quote(r.TimeZone))
	} else {
		c.Location = loc
	}
	r.StartsAt, r.EndsAt = utc(r.StartsAt), utc(r.EndsAt)
	switch {
	case r.EndsAt != nil && !r.EndsAt.After(now):
		errs.add("recurrence.ends_at", "is in the past")
	case r.EndsAt != nil && r.StartsAt != nil && !r.EndsAt.After(*r.StartsAt):
		errs.add("recurrence.ends_at", "must be after starts_at")
	}
	if r.StartsAt != nil && r.StartsAt.After(now.Add(broadcast.MaxScheduleAhead)) {
		errs.add("recurrence.starts_at", "must be at most a year ahead")
	}
	if r.Count < 0 || r.Count > MaxCount {
		errs.add("recurrence.count", "must be from 1 to %d, or left out for no limit; got %d", MaxCount, r.Count)
	}
	c.Recurrence = r
	return c, errs
}

func compileCron(expr string, errs *fieldErrors) *cron.SpecSchedule {
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		errs.add("recurrence.cron", "give the zone in time_zone, not in the expression")
		return nil
	}
	if strings.HasPrefix(expr, "@every") {
		errs.add("recurrence.cron", `for a fixed interval use "every" (like "6h"), not @every`)
		return nil
	}
	parsed, err := cronParser.Parse(expr)
	if err != nil {
		errs.add("recurrence.cron", "%s is not a five-field cron expression (minute hour day-of-month month day-of-week, "+
			`like "0 9 * * MON-FRI"): %v`, broadcast.Quote(expr), err)
		return nil
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		errs.add("recurrence.cron", "%s is not a five-field cron expression", broadcast.Quote(expr))
		return nil
	}
	// Cron's rule for both fields set (either one matches) surprises
	// people, and schedulers disagree on it: ask for one of the two.
	if spec.Dom&starBit == 0 && spec.Dow&starBit == 0 {
		errs.add("recurrence.cron", "restricts both the day of the month and the day of the week; restrict one of them (use * for the other)")
		return nil
	}
	return spec
}

func compileEvery(raw string, errs *fieldErrors) time.Duration {
	d, err := time.ParseDuration(raw)
	switch {
	case err != nil:
		errs.add("recurrence.every", `%s is not a duration; write it like "30m", "6h" or "168h"`, broadcast.Quote(raw))
	case d < MinEvery:
		errs.add("recurrence.every", "must be at least %s, got %s", MinEvery, d)
	case d > MaxEvery:
		errs.add("recurrence.every", "must be at most %s (a year), got %s", MaxEvery, d)
	case d%time.Second != 0:
		errs.add("recurrence.every", "must be whole seconds, got %s", d)
	}
	return d
}

// loadZone loads an IANA zone; "Local" names the machine's, which is not
// one, and is refused.
func loadZone(name string) (*time.Location, error) {
	if name == "Local" || strings.HasPrefix(name, "/") {
		return nil, fmt.Errorf("not an IANA zone: %s", name)
	}
	return time.LoadLocation(name)
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(broadcast.Precision)
	return &u
}

// starBit is set in a parsed field that was "*" (or "?").
const starBit = 1 << 63

// Matches reports whether the wall-clock time local (read in the series'
// zone, to the minute) matches the cron expression. An interval matches
// nothing: it has no wall-clock times.
func (c Compiled) Matches(local time.Time) bool {
	s := c.spec
	if s == nil {
		return false
	}
	return bit(s.Minute, local.Minute()) && bit(s.Hour, local.Hour()) && bit(s.Dom, local.Day()) &&
		bit(s.Month, int(local.Month())) && bit(s.Dow, int(local.Weekday()))
}

func bit(field uint64, n int) bool { return field&(1<<uint(n)) != 0 }

type fieldErrors []broadcast.FieldError

func (e *fieldErrors) add(field, format string, args ...any) {
	*e = append(*e, broadcast.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}
