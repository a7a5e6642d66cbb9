package broadcast

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// LocalTime is a wall-clock time without a zone ("2027-01-05T09:00"): a
// broadcast given one reaches each recipient when their own clock shows it.
type LocalTime struct {
	// wall holds the date and time of day, in UTC only as a carrier.
	wall time.Time
}

// localLayouts are the forms a LocalTime is written in: to the minute, or to
// the second (as PostgreSQL's row_to_json writes a timestamp).
var localLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05"}

// ParseLocalTime reads "2027-01-05T09:00" (seconds optional, no zone).
func ParseLocalTime(s string) (LocalTime, error) {
	for _, layout := range localLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return LocalTime{wall: t}, nil
		}
	}
	return LocalTime{}, fmt.Errorf("must be a local date and time without a zone, as 2027-01-05T09:00, got %s", Quote(s))
}

// LocalTimeOf is the wall clock t's fields show, whatever its location.
func LocalTimeOf(t time.Time) LocalTime {
	return LocalTime{wall: time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)}
}

// Wall is the wall clock as a time in UTC, the form PostgreSQL's timestamp
// (without time zone) column stores.
func (l LocalTime) Wall() time.Time { return l.wall }

// IsZero reports whether l was never set.
func (l LocalTime) IsZero() bool { return l.wall.IsZero() }

func (l LocalTime) String() string {
	if l.wall.Second() != 0 {
		return l.wall.Format(localLayouts[1])
	}
	return l.wall.Format(localLayouts[0])
}

// MarshalText writes l as String does.
func (l LocalTime) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads l as ParseLocalTime does.
func (l *LocalTime) UnmarshalText(b []byte) error {
	parsed, err := ParseLocalTime(string(b))
	if err != nil {
		return err
	}
	*l = parsed
	return nil
}

// In is the instant at which clocks in loc show l. A time the clocks skip
// (02:30 when they spring forward) reads as the same distance past the
// skipped hour (03:30); a time they show twice (01:30 when they fall back)
// is its first instant, so the earlier of the two.
func (l LocalTime) In(loc *time.Location) time.Time {
	// The offsets in force a little before and after it: they differ only
	// around a transition, where l may read under either or neither.
	guess := time.Date(l.wall.Year(), l.wall.Month(), l.wall.Day(), l.wall.Hour(), l.wall.Minute(), l.wall.Second(), 0, loc)
	_, before := guess.Add(-3 * time.Hour).Zone()
	_, after := guess.Add(3 * time.Hour).Zone()
	var first time.Time
	for _, offset := range []int{before, after} {
		at := l.wall.Add(-time.Duration(offset) * time.Second)
		if LocalTimeOf(at.In(loc)).wall.Equal(l.wall) && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	if first.IsZero() { // skipped: under the offset before the gap
		first = l.wall.Add(-time.Duration(before) * time.Second)
	}
	return first.UTC()
}

// DefaultTimeZone is a local-time broadcast's default_time_zone when none is
// given: the zone of recipients whose own zone nobody knows.
const DefaultTimeZone = "UTC"

// zones caches loaded locations: time.LoadLocation reads the zone database
// on every call, and inboxes and streams resolve a zone per user.
var zones sync.Map // name → *time.Location, or nil for a name that is none

// Zone loads an IANA time zone ("Europe/Berlin"). "Local" and file paths,
// which name the machine's own rather than a zone, are refused, as is "".
func Zone(name string) (*time.Location, bool) {
	if v, ok := zones.Load(name); ok {
		loc, _ := v.(*time.Location)
		return loc, loc != nil
	}
	var loc *time.Location
	if name != "" && name != "Local" && !strings.HasPrefix(name, "/") && len(name) <= 64 {
		loc, _ = time.LoadLocation(name)
	}
	zones.Store(name, loc)
	return loc, loc != nil
}

// Wave is one step of a local-time broadcast's publication: the instant its
// local time comes in Zones, which reach it together.
type Wave struct {
	At    time.Time `json:"at"`
	Zones []string  `json:"zones"`
}

// ZoneOf is the zone a recipient receives b in: theirs (from the user
// directory, else their token's zoneinfo; "" when neither says) when it is
// an IANA zone, else b's default.
func (b *Broadcast) ZoneOf(userZone string) string {
	if _, ok := Zone(userZone); ok {
		return userZone
	}
	return b.DefaultTimeZone
}

// ShownFrom is when b reaches a recipient whose zone is userZone: the
// instant of its local time in their zone for a local-time broadcast, its
// publication otherwise (zero before it).
func (b *Broadcast) ShownFrom(userZone string) time.Time {
	if b.LocalTime == nil {
		if b.PublishedAt == nil {
			return time.Time{}
		}
		return *b.PublishedAt
	}
	loc, ok := Zone(b.ZoneOf(userZone))
	if !ok {
		loc = time.UTC
	}
	return b.LocalTime.In(loc)
}

// Shown reports whether b has reached a recipient in userZone at now: it is
// published and, for a local-time broadcast, their local time has come.
func (b *Broadcast) Shown(userZone string, now time.Time) bool {
	if b.PublishedAt == nil {
		return false
	}
	return b.LocalTime == nil || !b.ShownFrom(userZone).After(now)
}

// BroughtBy reports whether the publication event carrying b (as its wave
// b.WavesSent left it) is the one that brings b to a recipient in userZone:
// always for a broadcast without local time; for one with, when their
// instant falls after the previous wave's and no later than this one's (the
// first wave also brings every instant before it). A recipient whose zone
// no wave was planned for and whose instant comes after the last wave finds
// b in their inbox at their instant, never earlier, but no live event.
func (b *Broadcast) BroughtBy(userZone string) bool {
	if b.LocalTime == nil || b.WavesSent < 1 || b.WavesSent > len(b.Waves) {
		return true
	}
	at := b.ShownFrom(userZone)
	i := b.WavesSent - 1
	if i > 0 && !at.After(b.Waves[i-1].At) {
		return false
	}
	return !at.After(b.Waves[i].At)
}

// PlanWaves groups the zones a local-time broadcast's recipients are in
// (their own, "" for those without one, who take defaultZone, as do all
// when zones is empty) into waves,
// earliest first: one per distinct instant of local in them. Instants
// before notBefore join the first wave at notBefore (a wave is never sent
// in the past); those at or after notAfter (its expiry) are left out and
// returned as dropped.
func PlanWaves(local LocalTime, defaultZone string, zones []string, notBefore, notAfter time.Time) (waves []Wave, dropped []string) {
	seen := map[string]bool{}
	byAt := map[time.Time][]string{}
	if len(zones) == 0 {
		zones = []string{""} // nobody's zone known: all in the default
	}
	for _, z := range zones {
		if _, ok := Zone(z); !ok {
			z = defaultZone
		}
		if seen[z] {
			continue
		}
		seen[z] = true
		loc, ok := Zone(z)
		if !ok {
			loc = time.UTC
		}
		at := local.In(loc)
		if at.Before(notBefore) {
			at = notBefore
		}
		if !notAfter.IsZero() && !at.Before(notAfter) {
			dropped = append(dropped, z)
			continue
		}
		byAt[at] = append(byAt[at], z)
	}
	for at, zs := range byAt {
		slices.Sort(zs)
		waves = append(waves, Wave{At: at.UTC().Truncate(Precision), Zones: zs})
	}
	slices.SortFunc(waves, func(a, b Wave) int { return a.At.Compare(b.At) })
	slices.Sort(dropped)
	return waves, dropped
}
