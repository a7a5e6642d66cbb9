package chaos

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/internal/broadcast"
)

// fate is what a scenario does to one broadcast of its burst, and so what
// must have become of it at the end.
type fate int

const (
	// fatePlain is published at the due time and stays SENT.
	fatePlain fate = iota
	// fateExpiring is published, then expires during the scenario.
	fateExpiring
	// fateCancelEarly is cancelled before the due dispatchers read it (10 s
	// ahead of its time): never published.
	fateCancelEarly
	// fateCancelInHold is cancelled inside the hold, while the dispatchers
	// wait for its instant: the cancel's guarded change commits first, so
	// it is not published; were it published first, it must be retracted.
	fateCancelInHold
	// fateRescheduled is moved later before the dispatchers read it, and
	// published at the new time.
	fateRescheduled
	// fateMarker is sent at once before the burst, so that every client
	// has a position to resume from before anything fails.
	fateMarker
)

func (f fate) String() string {
	return [...]string{"plain", "expiring", "cancelled early", "cancelled in the hold", "rescheduled", "marker"}[f]
}

// planned is one broadcast of a scenario: what was asked of Crier, and what
// Crier answered.
type planned struct {
	ID     uuid.UUID
	Title  string
	Fate   fate
	Target broadcast.Target
	// Due is its scheduled_at (after a reschedule, the new one); Expires
	// its expires_at.
	Due, Expires time.Time
	// Cancelled is true when a cancel was answered 200; Refused says how
	// a cancel or reschedule that was not answered 200 was answered.
	Cancelled bool
	Refused   string
	// Uncertain is true when a cancel got no answer, or a 5xx (Temporal
	// went away while the update waited): it may or may not have taken.
	Uncertain bool
}

// expectStatus are the statuses it may end in: one, unless its cancel's
// outcome is unknown.
func (p *planned) expectStatus() []broadcast.Status {
	plain := broadcast.StatusSent
	if p.Fate == fateExpiring {
		plain = broadcast.StatusExpired
	}
	switch {
	case p.Cancelled:
		return []broadcast.Status{broadcast.StatusCancelled}
	case p.Uncertain:
		return []broadcast.Status{broadcast.StatusCancelled, plain}
	default:
		return []broadcast.Status{plain}
	}
}

// mustPublish says whether it must be published: everything that fell due
// and was not (or may have been) cancelled. A cancelled one that was
// published too (a cancel that lost the race with its publication) must be
// retracted: judge requires it.
func (p *planned) mustPublish() bool { return !p.Cancelled && !p.Uncertain }

// users are the clients' users: every target type reaches some of them and
// misses others.
var users = []user{
	{ID: "ann", Roles: []string{"ops"}},
	{ID: "bob", Roles: []string{"sales"}},
	{ID: "cat", Roles: []string{"ops", "sales"}},
	{ID: "dan"},
	{ID: "eve"},
	{ID: "fay", Roles: []string{"ops"}},
}

// targets are what the burst's broadcasts aim at, in turn.
var targets = []broadcast.Target{
	{Type: broadcast.TargetAll},
	{Type: broadcast.TargetRole, IDs: []string{"ops"}},
	{Type: broadcast.TargetRole, IDs: []string{"sales"}},
	{Type: broadcast.TargetSelected, IDs: []string{"eve", "fay"}},
}

// fateOf spreads fates over a burst, per 20: 2 cancelled early, 1 in the
// hold, 2 rescheduled, 5 expiring and 10 left alone.
func fateOf(i int) fate {
	switch i % 20 {
	case 0, 1:
		return fateCancelEarly
	case 2:
		return fateCancelInHold
	case 3, 4:
		return fateRescheduled
	case 5, 6, 7, 8, 9:
		return fateExpiring
	default:
		return fatePlain
	}
}

// newBurst plans n broadcasts due at due; those that expire do at expires,
// the others an hour later (after the scenario).
func newBurst(label string, n int, due, expires time.Time) []*planned {
	out := make([]*planned, n)
	for i := range out {
		f := fateOf(i)
		end := due.Add(time.Hour)
		if f == fateExpiring {
			end = expires
		}
		out[i] = &planned{
			ID: uuid.Nil, Title: fmt.Sprintf("%s #%d (%s)", label, i+1, f), Fate: f,
			// Shifted by one every 20, so every fate meets every target.
			Target: targets[(i+i/20)%len(targets)], Due: due, Expires: end,
		}
	}
	return out
}
