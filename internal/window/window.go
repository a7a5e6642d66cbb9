// Package window is a delivery window: the days and hours of a time zone in
// which a broadcast may be published (off-peak delivery, or office hours).
// A broadcast due outside its window is published at the window's next
// opening; its expiry still wins.
package window

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Window is when publication may happen: on Days, from From to To (local
// wall-clock times, "HH:MM") in TimeZone. A To at or before From runs past
// midnight into the next day: {"from": "22:00", "to": "06:00"} is the night
// after each of Days.
type Window struct {
	// Days are the days a window opens, as MON, TUE, ... SUN. Default
	// every day.
	Days []string `json:"days,omitempty"`
	From string   `json:"from"`
	To   string   `json:"to"`
	// TimeZone is an IANA zone. Default "UTC".
	TimeZone string `json:"time_zone,omitempty"`
}

// dayNames are the accepted day names, in time.Weekday order.
var dayNames = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

// Compiled is a valid window, ready to answer NextOpening.
type Compiled struct {
	Window
	days     [7]bool
	from, to time.Duration // since local midnight
	loc      *time.Location
}

// Problem is one reason a window was refused, tied to its field.
type Problem struct {
	Field, Message string
}

// quote quotes input for a message, cut to 64 bytes.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

// Compile checks w, fills its defaults (every day, UTC, day names upper
// case) and reports every problem, under field ("delivery_window").
func (w Window) Compile(field string) (Compiled, []Problem) {
	var errs []Problem
	add := func(sub, format string, args ...any) {
		errs = append(errs, Problem{Field: field + sub, Message: fmt.Sprintf(format, args...)})
	}
	c := Compiled{loc: time.UTC}
	if len(w.Days) == 0 {
		w.Days = []string{"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}
	}
	w.Days = slices.Clone(w.Days)
	for i, d := range w.Days {
		d = strings.ToUpper(strings.TrimSpace(d))
		w.Days[i] = d
		n := slices.Index(dayNames, d)
		if n < 0 {
			add(".days", "%s is not a day; use MON, TUE, WED, THU, FRI, SAT or SUN", quote(d))
			continue
		}
		c.days[n] = true
	}
	var ok bool
	if c.from, ok = clock(w.From); !ok {
		add(".from", `%s is not a time of day; write it like "08:00"`, quote(w.From))
	}
	if c.to, ok = clock(w.To); !ok {
		add(".to", `%s is not a time of day; write it like "18:00"`, quote(w.To))
	} else if c.to == c.from {
		add(".to", "must differ from from; a window open all day needs none")
	}
	if w.TimeZone = strings.TrimSpace(w.TimeZone); w.TimeZone == "" {
		w.TimeZone = "UTC"
	}
	if loc, err := time.LoadLocation(w.TimeZone); err != nil || w.TimeZone == "Local" {
		add(".time_zone", "%s is not an IANA time zone (like Europe/Berlin)", quote(w.TimeZone))
	} else {
		c.loc = loc
	}
	c.Window = w
	return c, errs
}

// clock reads "HH:MM" (00:00 to 24:00).
func clock(s string) (time.Duration, bool) {
	var h, m int
	if n, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || n != 2 || len(s) != 5 || h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && m > 0 {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, true
}

// NextOpening is the first instant at or after t inside the window: t
// itself when the window is open at t.
func (c Compiled) NextOpening(t time.Time) time.Time {
	local := t.In(c.loc)
	var best time.Time
	// The window that opened the day before may still be open (past
	// midnight); a week and a day ahead holds the next opening of any day.
	for i := -1; i <= 8; i++ {
		d := local.AddDate(0, 0, i)
		if !c.days[d.Weekday()] {
			continue
		}
		midnight := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, c.loc)
		open, end := at(midnight, c.from, c.loc), at(midnight, c.to, c.loc)
		if c.to <= c.from {
			end = at(midnight.AddDate(0, 0, 1), c.to, c.loc)
		}
		switch {
		case !t.Before(open) && t.Before(end):
			return t
		case open.After(t) && (best.IsZero() || open.Before(best)):
			best = open
		}
	}
	return best
}

// at is the instant of the wall-clock time since midnight on midnight's day
// (a time the clocks skip reads as the one as far after it).
func at(midnight time.Time, since time.Duration, loc *time.Location) time.Time {
	h, m := int(since/time.Hour), int(since%time.Hour/time.Minute)
	return time.Date(midnight.Year(), midnight.Month(), midnight.Day(), h, m, 0, 0, loc)
}
