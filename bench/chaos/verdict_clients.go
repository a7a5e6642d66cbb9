package chaos

import (
	"cmp"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/bench"
	"github.com/crier/crier/internal/broadcast"
)

// judgeClients: every client read every published broadcast that targets
// its user, once after dropping duplicates, and its retraction when there
// is one; and nothing else.
func (v *Verdict) judgeClients(o observation, byBroadcast map[uuid.UUID]events, published map[uuid.UUID]bool) {
	due := make(map[uuid.UUID]*planned, len(o.Plan))
	for _, p := range o.Plan {
		due[p.ID] = p
	}
	var late []time.Duration
	for _, c := range o.Clients {
		v.Resets += c.Resets
		if c.Resets > 0 {
			v.note("client %s was sent %d resets: a replay refused", c.Name, c.Resets)
		}
		v.Reconnects += max(c.Connects-1, 0)
		got, retracted := map[uuid.UUID]time.Time{}, map[uuid.UUID]bool{}
		for _, d := range c.Deliveries {
			switch {
			case d.Name == "retract":
				retracted[d.Broadcast] = true
			case !got[d.Broadcast].IsZero():
				v.ClientCopies++
			default:
				got[d.Broadcast] = d.At
			}
		}
		for _, p := range o.Plan {
			meant := published[p.ID] && p.Target.Targets(c.User.ID, c.User.Roles)
			at, read := got[p.ID]
			switch {
			case meant && !read:
				v.Missed++
				v.note("client %s never read %s (%s, %s)", c.Name, p.ID, p.Fate, p.Target.Type)
			case !meant && (read || retracted[p.ID]):
				v.Extra++
				v.note("client %s read %s (%s, %s), not meant for it", c.Name, p.ID, p.Fate, p.Target.Type)
			case meant && p.Fate != fateMarker:
				late = append(late, at.Sub(p.Due))
			}
			ev := byBroadcast[p.ID]
			_, gone := ev.first(broadcast.EventCancelled)
			_, expired := ev.first(broadcast.EventExpired)
			if meant && (gone || expired) && !retracted[p.ID] {
				v.RetractMissed++
				v.note("client %s never read the retraction of %s (%s)", c.Name, p.ID, p.Fate)
			}
		}
	}
	v.ClientLateness = bench.Summarize(late)
}

// sortedByOffset orders records by partition and offset: per broadcast
// (one partition each), the order Kafka holds its events in.
func sortedByOffset(rs []record) []record {
	out := slices.Clone(rs)
	slices.SortFunc(out, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	return out
}
