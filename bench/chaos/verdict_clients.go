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
		var a clientAccount
		for _, p := range o.Plan {
			meant := published[p.ID] && p.Target.Targets(c.User.ID, c.User.Roles)
			at, read := got[p.ID]
			ev := byBroadcast[p.ID]
			pub, _ := ev.first(broadcast.EventPublished)
			switch {
			case meant && !read:
				a.missed = append(a.missed, p.ID)
				a.partitions = append(a.partitions, pub.Partition)
			case !meant && (read || retracted[p.ID]):
				a.extra = append(a.extra, p.ID)
			case meant && p.Fate != fateMarker:
				late = append(late, at.Sub(p.Due))
			}
			_, gone := ev.first(broadcast.EventCancelled)
			_, expired := ev.first(broadcast.EventExpired)
			if meant && (gone || expired) && !retracted[p.ID] {
				a.unretracted++
			}
		}
		v.Missed, v.Extra, v.RetractMissed = v.Missed+len(a.missed), v.Extra+len(a.extra), v.RetractMissed+a.unretracted
		a.note(v, c)
	}
	v.ClientLateness = bench.Summarize(late)
}

// clientAccount is what one client lacked or had too much of.
type clientAccount struct {
	missed, extra []uuid.UUID
	partitions    []int32 // of the missed broadcasts' publications
	unretracted   int
}

// note sums the account up in one note, naming the partitions the missed
// broadcasts were published on (a stream tail that stopped reading some
// shows as misses on those only) and an example of each.
func (a clientAccount) note(v *Verdict, c clientView) {
	if len(a.missed) > 0 {
		slices.Sort(a.partitions)
		v.note("client %s never read %d broadcasts meant for it (published on partitions %v; e.g. %s)", c.Name,
			len(a.missed), slices.Compact(a.partitions), a.missed[0])
	}
	if len(a.extra) > 0 {
		v.note("client %s read %d broadcasts not meant for it (e.g. %s)", c.Name, len(a.extra), a.extra[0])
	}
	if a.unretracted > 0 {
		v.note("client %s never read %d retractions of broadcasts it read", c.Name, a.unretracted)
	}
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
