package series

import (
	"time"

	"go.temporal.io/sdk/client"
)

// Daylight saving. A cron recurrence is a wall-clock time in its zone, and
// the day the clocks change has one that does not exist or one that occurs
// twice. Temporal's schedules skip the first and fire the second twice
// (measured against the server: "30 2 * * *" in America/New_York has no
// action on 2027-03-14, "30 1 * * *" two on 2027-11-07; "30 2 * * *" in
// Europe/Berlin one on 2027-10-31, at the second 02:30). Crier keeps one
// occurrence per wall-clock time instead:
//
//   - a time the clocks skip fires as far after it as they jump: 02:30 on the
//     day 02:00 becomes 03:00 fires at 03:30, the instant 02:30 names when
//     read with the offset in force before the change. The schedule gets an
//     extra calendar entry for each such instant within SpecHorizon.
//   - a time that occurs twice fires once, the second time (after the clocks
//     go back, in standard time): Temporal acts on the second instant but
//     not always on the first. An occurrence's id is derived from its
//     wall-clock time (Occurrence), and an action at the first instant makes
//     the occurrence due at the second, which the second action then finds.
//
// An interval recurrence is real time and has neither problem.

// SpecHorizon is how far ahead the extra calendar entries for skipped
// wall-clock times reach. Each update of the series (and each worker start,
// which brings schedules in line) computes them again from the zone rules
// of the day.
const SpecHorizon = 5 * 366 * 24 * time.Hour

// descriptors are the cron descriptors, spelled out for Temporal.
var descriptors = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// ScheduleSpec is the Temporal schedule spec of the recurrence, for a series
// created at created, computed at now.
func (c Compiled) ScheduleSpec(now, created time.Time) client.ScheduleSpec {
	spec := client.ScheduleSpec{TimeZoneName: c.TimeZone}
	if c.StartsAt != nil {
		spec.StartAt = *c.StartsAt
	}
	if c.EndsAt != nil {
		spec.EndAt = *c.EndsAt
	}
	if c.spec == nil {
		anchor := created
		if c.StartsAt != nil {
			anchor = *c.StartsAt
		}
		// Temporal's intervals count from the epoch; the offset moves them
		// onto the anchor.
		offset := time.Duration(anchor.UnixNano()) % c.Interval
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: c.Interval, Offset: offset}}
		return spec
	}
	expr := c.Cron
	if full, ok := descriptors[expr]; ok {
		expr = full
	}
	spec.CronExpressions = []string{expr}
	from, to := now, now.Add(SpecHorizon)
	if c.StartsAt != nil && c.StartsAt.After(from) {
		from = *c.StartsAt
	}
	if c.EndsAt != nil && c.EndsAt.Before(to) {
		to = *c.EndsAt
	}
	for _, at := range c.SkippedTimes(from, to) {
		local := at.In(c.Location)
		spec.Calendars = append(spec.Calendars, client.ScheduleCalendarSpec{
			Second: []client.ScheduleRange{{Start: 0}}, Minute: []client.ScheduleRange{{Start: local.Minute()}},
			Hour: []client.ScheduleRange{{Start: local.Hour()}}, DayOfMonth: []client.ScheduleRange{{Start: local.Day()}},
			Month: []client.ScheduleRange{{Start: int(local.Month())}}, Year: []client.ScheduleRange{{Start: local.Year()}},
			DayOfWeek: []client.ScheduleRange{{Start: 0, End: 6}},
			Comment:   "a wall-clock time the clocks skip, fired as far after it as they jump",
		})
	}
	return spec
}

// SkippedTimes are the instants at which the occurrences whose wall-clock
// times the clocks skip between from and to fire: each such time read with
// the offset in force before the change. A skipped time whose instant is
// itself a wall-clock time the cron matches is left out: it fires anyway.
func (c Compiled) SkippedTimes(from, to time.Time) []time.Time {
	if c.spec == nil {
		return nil
	}
	var out []time.Time
	for t := from; t.Before(to); {
		_, end := t.In(c.Location).ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			break
		}
		_, before := end.Add(-time.Second).In(c.Location).Zone()
		_, after := end.In(c.Location).Zone()
		if jump := time.Duration(after-before) * time.Second; jump > 0 {
			// The wall-clock times [end+before, end+after) do not exist.
			firstWall := end.Add(time.Duration(before) * time.Second).UTC()
			for w := firstWall; w.Before(firstWall.Add(jump)); w = w.Add(time.Minute) {
				if !c.Matches(w) {
					continue
				}
				at := w.Add(-time.Duration(before) * time.Second) // read with the old offset
				if !c.Matches(naive(at.In(c.Location))) && !at.Before(from) {
					out = append(out, at)
				}
			}
		}
		t = end
	}
	return out
}

// naive is the wall-clock reading of t as a UTC time, for Matches.
func naive(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

// Occurrence is what a schedule action at nominal makes: the key naming
// its occurrence and the instant it is due. For a cron recurrence the key
// is the wall-clock time in the zone, so both actions of a time that occurs
// twice name one occurrence, and it is due at the second instant of that
// time (after the clocks go back): Temporal acts on the second but not
// always the first. Every other action is due at its nominal time. For an
// interval the key is the instant.
func (c Compiled) Occurrence(nominal time.Time) (key string, due time.Time) {
	if c.spec == nil {
		return nominal.UTC().Format(time.RFC3339), nominal.UTC()
	}
	local := nominal.In(c.Location)
	due = nominal.UTC()
	// The wall-clock time read with the offsets of the day before and the
	// day after: when both name it, it occurs twice.
	for _, around := range []time.Time{nominal.Add(-24 * time.Hour), nominal.Add(24 * time.Hour)} {
		_, offset := around.In(c.Location).Zone()
		at := naive(local).Add(-time.Duration(offset) * time.Second)
		if at.After(due) && at.In(c.Location).Format(wallLayout) == local.Format(wallLayout) {
			due = at
		}
	}
	return local.Format(wallLayout), due
}

// wallLayout writes a wall-clock time, without its offset.
const wallLayout = "2006-01-02T15:04:05"

// Next are the occurrences the schedule's action times make, in order, one
// per key: the instants each is due.
func (c Compiled) Next(actions []time.Time) []time.Time {
	seen := make(map[string]bool, len(actions))
	var out []time.Time
	for _, t := range actions {
		if k, due := c.Occurrence(t); !seen[k] {
			seen[k] = true
			out = append(out, due)
		}
	}
	return out
}
