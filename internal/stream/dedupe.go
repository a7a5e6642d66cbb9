package stream

import "github.com/google/uuid"

// recentIDs remembers the last N event ids, so an event the relay wrote to
// Kafka twice (a retried write) is pushed once.
type recentIDs struct {
	set  map[uuid.UUID]struct{}
	ring []uuid.UUID
	next int
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{set: make(map[uuid.UUID]struct{}, n), ring: make([]uuid.UUID, n)}
}

// add records id and reports whether it was new.
func (r *recentIDs) add(id uuid.UUID) bool {
	if _, seen := r.set[id]; seen {
		return false
	}
	if old := r.ring[r.next]; old != uuid.Nil {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.set[id] = struct{}{}
	return true
}

// has reports whether id was added and is still remembered.
func (r *recentIDs) has(id uuid.UUID) bool {
	_, seen := r.set[id]
	return seen
}
