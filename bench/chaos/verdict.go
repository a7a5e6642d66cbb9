package chaos

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/bench"
	"github.com/crier/crier/internal/broadcast"
)

// row is a broadcast as PostgreSQL holds it.
type row struct {
	Status    broadcast.Status
	Published bool // published_at is set
}

// observation is everything a scenario's checks read: the plan and the
// answers Crier gave, Kafka's topic, PostgreSQL's rows and the clients'
// own logs.
type observation struct {
	Plan    []*planned
	Records []record
	Rows    map[uuid.UUID]row
	// OutboxPending and OutboxFailed count outbox rows neither published
	// nor failed, and failed for good.
	OutboxPending, OutboxFailed int
	Clients                     []clientView
	// Outage is what became of the creations tried while Temporal was
	// away (temporal-stop only).
	Outage *outageView
}

// Verdict is one scenario's judgement: the counts CHAOS.md reports, each of
// which must be zero but the informational ones (Copies, ClientCopies,
// Reconnects, CancelRaced) and the lateness.
type Verdict struct {
	Planned, MustPublish, Published int
	// Lost: due, not cancelled, never published.
	Lost int
	// Duplicates: a second event id for the same broadcast and event type
	// (a second publication, not a resend).
	Duplicates int
	// Copies: further copies of an event with the same event_id (a resend
	// after a relay crash): allowed, dropped by consumers.
	Copies int
	// Unretracted: published, cancelled, and no BROADCAST_CANCELLED after.
	Unretracted int
	// StatusWrong: a final status other than the plan's, or one the events
	// contradict.
	StatusWrong int
	// OutboxLeft: outbox rows not published (or failed) at the end.
	OutboxLeft int
	// Foreign: events of broadcasts the scenario did not create.
	Foreign int
	// Client counts, over every client: broadcasts it should have received
	// and did not, or received and should not have; retractions of what it
	// received that never came; further copies of what it received; resets
	// (a replay refused); reconnections.
	Missed, Extra, RetractMissed, ClientCopies, Resets, Reconnects int
	// Lateness is each publication's Kafka append minus its scheduled_at;
	// ExpiryLateness each expiry's minus its expires_at; ClientLateness
	// each client's first read of a broadcast minus its scheduled_at.
	Lateness, ExpiryLateness, ClientLateness bench.Summary
	// Outage is what became of the creations tried while Temporal was
	// away; OutageWrong counts those not answered 503, or stored.
	Outage      *outageView
	OutageWrong int
	// Growing counts the tables that kept growing over the soak (soak only):
	// retention did not bound them.
	Growing int
	// Notes name the first problems found, for a person to look up.
	Notes []string
}

// OK says whether every check passed.
func (v Verdict) OK() bool {
	return v.Lost == 0 && v.Duplicates == 0 && v.Unretracted == 0 && v.StatusWrong == 0 && v.OutboxLeft == 0 &&
		v.Foreign == 0 && v.Missed == 0 && v.Extra == 0 && v.RetractMissed == 0 && v.Resets == 0 && v.OutageWrong == 0 &&
		v.Growing == 0
}

func (v *Verdict) note(format string, args ...any) {
	if len(v.Notes) < 12 {
		v.Notes = append(v.Notes, fmt.Sprintf(format, args...))
	}
}

// events is what Kafka holds of one broadcast: per event type, the first
// copy of each event id, in offset order.
type events map[broadcast.EventType][]record

// first is the first event of type t, and whether there is one.
func (e events) first(t broadcast.EventType) (record, bool) {
	if len(e[t]) == 0 {
		return record{}, false
	}
	return e[t][0], true
}

// judge checks an observation.
func judge(o observation) Verdict {
	v := Verdict{Planned: len(o.Plan), OutboxLeft: o.OutboxPending + o.OutboxFailed}
	if o.OutboxPending > 0 {
		v.note("%d outbox rows still pending", o.OutboxPending)
	}
	if o.OutboxFailed > 0 {
		v.note("%d outbox rows failed for good", o.OutboxFailed)
	}
	byBroadcast := v.groupEvents(o)
	var late, expiryLate []time.Duration
	published := map[uuid.UUID]bool{}
	for _, p := range o.Plan {
		ev := byBroadcast[p.ID]
		pub, ok := ev.first(broadcast.EventPublished)
		if ok {
			published[p.ID] = true
			v.Published++
			if p.Fate != fateMarker {
				late = append(late, pub.AppendedAt.Sub(p.Due))
			}
		}
		if p.mustPublish() {
			v.MustPublish++
			if !ok {
				v.Lost++
				v.note("lost: %s (%s), due %s, never published", p.ID, p.Fate, p.Due.Format("15:04:05.000"))
			}
		}
		if exp, ok := ev.first(broadcast.EventExpired); ok && p.Fate == fateExpiring {
			expiryLate = append(expiryLate, exp.AppendedAt.Sub(p.Expires))
		}
		v.checkCancel(p, ev, o.Rows)
		v.checkStatus(p, ev, o.Rows)
	}
	v.Lateness, v.ExpiryLateness = bench.Summarize(late), bench.Summarize(expiryLate)
	v.judgeClients(o, byBroadcast, published)
	if u := o.Outage; u != nil {
		v.Outage = u
		v.OutageWrong = u.Tried - u.Unavailable + u.Stored
		if v.OutageWrong > 0 {
			v.note("during the Temporal outage %d creations were answered %v, and %d of them stored", u.Tried, u.Answers, u.Stored)
		}
	}
	return v
}

// groupEvents sorts the topic's records by broadcast, counting copies of an
// event id, second event ids of a type and events of unknown broadcasts.
func (v *Verdict) groupEvents(o observation) map[uuid.UUID]events {
	planned := make(map[uuid.UUID]bool, len(o.Plan))
	for _, p := range o.Plan {
		planned[p.ID] = true
	}
	seen := map[uuid.UUID]bool{}
	out := map[uuid.UUID]events{}
	for _, r := range sortedByOffset(o.Records) {
		switch r.Type {
		case broadcast.EventPublished, broadcast.EventCancelled, broadcast.EventExpired:
		case broadcast.EventRescheduled, broadcast.EventRead:
			continue // no fate depends on them
		default:
			continue
		}
		if !planned[r.Broadcast] {
			v.Foreign++
			v.note("foreign: %s of broadcast %s, which the scenario did not create", r.Type, r.Broadcast)
			continue
		}
		if seen[r.EventID] {
			v.Copies++
			continue
		}
		seen[r.EventID] = true
		if out[r.Broadcast] == nil {
			out[r.Broadcast] = events{}
		}
		if n := len(out[r.Broadcast][r.Type]); n > 0 {
			v.Duplicates++
			v.note("duplicate: %s of %s under a second event id %s (first %s)", r.Type, r.Broadcast, r.EventID,
				out[r.Broadcast][r.Type][0].EventID)
		}
		out[r.Broadcast][r.Type] = append(out[r.Broadcast][r.Type], r)
	}
	return out
}

// checkCancel: a cancelled broadcast that was published must be retracted
// afterwards (a later offset of its partition: events are keyed by it). A
// cancel without an answer counts when the broadcast ended cancelled.
func (v *Verdict) checkCancel(p *planned, ev events, rows map[uuid.UUID]row) {
	pub, published := ev.first(broadcast.EventPublished)
	cancelled := p.Cancelled || p.Uncertain && rows[p.ID].Status == broadcast.StatusCancelled
	if !cancelled || !published {
		return
	}
	retract, ok := ev.first(broadcast.EventCancelled)
	if !ok || retract.Partition != pub.Partition || retract.Offset < pub.Offset {
		v.Unretracted++
		v.note("unretracted: %s (%s) published after its cancel, with no BROADCAST_CANCELLED after it", p.ID, p.Fate)
	}
}

// checkStatus: the final status is the plan's, and the events say the same.
func (v *Verdict) checkStatus(p *planned, ev events, rows map[uuid.UUID]row) {
	r, ok := rows[p.ID]
	if !ok {
		v.StatusWrong++
		v.note("status: %s (%s) has no row", p.ID, p.Fate)
		return
	}
	_, published := ev.first(broadcast.EventPublished)
	_, expired := ev.first(broadcast.EventExpired)
	_, cancelled := ev.first(broadcast.EventCancelled)
	var why string
	switch {
	case !slices.Contains(p.expectStatus(), r.Status):
		why = fmt.Sprintf("is %s, should be %v", r.Status, p.expectStatus())
	case r.Published != published:
		why = fmt.Sprintf("published_at set %t, but a BROADCAST_PUBLISHED in Kafka %t", r.Published, published)
	case r.Status == broadcast.StatusSent && (expired || cancelled):
		why = "is SENT, but Kafka holds its expiry or cancellation"
	case r.Status == broadcast.StatusExpired && (!published || !expired || cancelled):
		why = fmt.Sprintf("is EXPIRED, but Kafka holds published %t, expired %t, cancelled %t", published, expired, cancelled)
	case r.Status == broadcast.StatusCancelled && (expired || cancelled != published):
		why = fmt.Sprintf("is CANCELLED, but Kafka holds published %t, expired %t, cancelled %t", published, expired, cancelled)
	default:
		return
	}
	v.StatusWrong++
	v.note("status: %s (%s) %s", p.ID, p.Fate, why)
}
