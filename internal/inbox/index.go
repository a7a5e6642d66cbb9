package inbox

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/internal/broadcast"
)

// activeSet is the active broadcasts by id and by audience, so that one
// user's inbox costs the broadcasts meant for them rather than a pass over
// every active broadcast (10,000 of them, with up to 10,000 target ids
// each, on every request). A stored broadcast is never changed, only
// replaced, so readers may keep pointers to it.
type activeSet struct {
	byID map[uuid.UUID]*broadcast.Broadcast
	// everyone lists the ALL broadcasts; byRole and byUser the ROLE and
	// SELECTED ones under each id of their target.
	everyone       []entry
	byRole, byUser map[string][]entry
}

// entry is a broadcast in an audience list, with its publication and
// expiry inline (Unix microseconds, PostgreSQL's precision) so that a
// user's inbox is filtered and sorted without reading each broadcast.
type entry struct {
	published, expires int64
	b                  *broadcast.Broadcast
}

func entryOf(b *broadcast.Broadcast) entry {
	e := entry{published: math.MinInt64, expires: math.MaxInt64, b: b}
	if b.PublishedAt != nil {
		e.published = b.PublishedAt.UnixMicro()
	}
	if b.ExpiresAt != nil {
		e.expires = b.ExpiresAt.UnixMicro()
	}
	return e
}

// live reports whether the broadcast has not expired at now (whose Unix
// microseconds are nowMicro); only a tie within the microsecond reads it.
func (e entry) live(now time.Time, nowMicro int64) bool {
	if e.expires != nowMicro {
		return e.expires > nowMicro
	}
	return live(e.b, now)
}

// newestFirst orders entries as the inbox shows them: by newestFirst of
// their broadcasts, read only on a tie within the microsecond.
func (e entry) newestFirst(o entry) int {
	if c := cmp.Compare(o.published, e.published); c != 0 {
		return c
	}
	return newestFirst(e.b, o.b)
}

func newActiveSet(size int) *activeSet {
	return &activeSet{byID: make(map[uuid.UUID]*broadcast.Broadcast, size),
		byRole: map[string][]entry{}, byUser: map[string][]entry{}}
}

func (s *activeSet) get(id uuid.UUID) (*broadcast.Broadcast, bool) {
	b, ok := s.byID[id]
	return b, ok
}

// put adds b, or replaces the broadcast of the same id.
func (s *activeSet) put(b broadcast.Broadcast) {
	s.remove(b.ID)
	s.byID[b.ID] = &b
	e := entryOf(&b)
	switch b.Target.Type {
	case broadcast.TargetAll:
		s.everyone = append(s.everyone, e)
	case broadcast.TargetRole:
		addUnder(s.byRole, b.Target.IDs, e)
	case broadcast.TargetSelected:
		addUnder(s.byUser, b.Target.IDs, e)
	}
}

// addUnder lists e under each key once: a key repeated in keys finds e
// already at the end of its list.
func addUnder(index map[string][]entry, keys []string, e entry) {
	for _, k := range keys {
		if es := index[k]; len(es) == 0 || es[len(es)-1].b != e.b {
			index[k] = append(es, e)
		}
	}
}

// remove takes out the broadcast id, if present.
func (s *activeSet) remove(id uuid.UUID) {
	b, ok := s.byID[id]
	if !ok {
		return
	}
	delete(s.byID, id)
	switch b.Target.Type {
	case broadcast.TargetAll:
		s.everyone = drop(s.everyone, b)
	case broadcast.TargetRole:
		dropUnder(s.byRole, b.Target.IDs, b)
	case broadcast.TargetSelected:
		dropUnder(s.byUser, b.Target.IDs, b)
	}
}

func drop(es []entry, b *broadcast.Broadcast) []entry {
	if i := slices.IndexFunc(es, func(e entry) bool { return e.b == b }); i >= 0 {
		es[i] = es[len(es)-1]
		es = es[:len(es)-1]
	}
	return es
}

func dropUnder(index map[string][]entry, keys []string, b *broadcast.Broadcast) {
	for _, k := range keys {
		if es := drop(index[k], b); len(es) > 0 {
			index[k] = es
		} else {
			delete(index, k)
		}
	}
}

// inbox returns the broadcasts live at now whose target includes the user,
// newest first: the same ones as Target.Targets over every broadcast.
func (s *activeSet) inbox(userID string, roles []string, now time.Time) []*broadcast.Broadcast {
	nowMicro := now.UnixMicro()
	var es []entry
	keep := func(list []entry) {
		for _, e := range list {
			if e.live(now, nowMicro) {
				es = append(es, e)
			}
		}
	}
	keep(s.everyone)
	for i, role := range roles {
		first := len(es)
		keep(s.byRole[role])
		if i > 0 {
			// A broadcast for two of the user's roles (or a role the
			// token repeats) is listed under both; keep it once.
			kept := slices.DeleteFunc(es[first:], func(e entry) bool {
				return slices.ContainsFunc(roles[:i], func(earlier string) bool { return slices.Contains(e.b.Target.IDs, earlier) })
			})
			es = es[:first+len(kept)]
		}
	}
	keep(s.byUser[userID])
	if len(es) == 0 {
		return nil
	}
	slices.SortFunc(es, entry.newestFirst)
	out := make([]*broadcast.Broadcast, len(es))
	for i, e := range es {
		out[i] = e.b
	}
	return out
}
