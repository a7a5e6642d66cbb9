package bench

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/internal/broadcast"
)

// Tally counts the publications of one scenario's broadcasts as they are
// read from Kafka. Delivery is at least once, so a broadcast may appear more
// than once: it counts once, at its first append. Messages about broadcasts
// of other scenarios, and events other than BROADCAST_PUBLISHED, are counted
// apart and never as a publication.
type Tally struct {
	due  map[uuid.UUID]time.Time // expected broadcast -> its scheduled_at
	seen map[uuid.UUID]time.Time // expected broadcast -> first append time
	// committed is the event's occurred_at (when its change committed, for
	// Crier) of each counted broadcast.
	committed map[uuid.UUID]time.Time
	// Duplicates counts publications of a broadcast already counted.
	Duplicates int
	// Foreign counts publications of broadcasts this scenario did not create.
	Foreign int
	// Other counts messages that are not publications (or not events).
	Other int
}

// NewTally expects one publication of every broadcast in due, which maps
// each broadcast to its scheduled_at.
func NewTally(due map[uuid.UUID]time.Time) *Tally {
	return &Tally{due: due, seen: make(map[uuid.UUID]time.Time, len(due)), committed: make(map[uuid.UUID]time.Time, len(due))}
}

// Record notes a message appended to Kafka at appendedAt. It reports whether
// the message was the first publication of an expected broadcast.
func (t *Tally) Record(value []byte, appendedAt time.Time) bool {
	var ev struct {
		EventType   broadcast.EventType `json:"event_type"`
		BroadcastID uuid.UUID           `json:"broadcast_id"`
		OccurredAt  time.Time           `json:"occurred_at"`
	}
	if err := json.Unmarshal(value, &ev); err != nil || ev.EventType != broadcast.EventPublished {
		t.Other++
		return false
	}
	if _, expected := t.due[ev.BroadcastID]; !expected {
		t.Foreign++
		return false
	}
	if first, ok := t.seen[ev.BroadcastID]; ok {
		t.Duplicates++
		if appendedAt.Before(first) { // partitions are read concurrently
			t.seen[ev.BroadcastID] = appendedAt
		}
		return false
	}
	t.seen[ev.BroadcastID] = appendedAt
	t.committed[ev.BroadcastID] = ev.OccurredAt
	return true
}

// Published is how many expected broadcasts have been counted.
func (t *Tally) Published() int { return len(t.seen) }

// Expected is how many broadcasts the scenario created.
func (t *Tally) Expected() int { return len(t.due) }

// Missing is how many expected broadcasts have not been seen.
func (t *Tally) Missing() int { return len(t.due) - len(t.seen) }

// MissingIDs returns up to limit expected broadcasts not seen, for a person
// to look up (in PostgreSQL, or in Temporal as broadcast:<id>).
func (t *Tally) MissingIDs(limit int) []uuid.UUID {
	var out []uuid.UUID
	for id := range t.due {
		if _, ok := t.seen[id]; !ok && len(out) < limit {
			out = append(out, id)
		}
	}
	return out
}

// Done reports whether every expected broadcast has been counted.
func (t *Tally) Done() bool { return t.Missing() == 0 }

// Lateness returns, for each counted broadcast, its first append time minus
// its scheduled_at (negative if it went out early).
func (t *Tally) Lateness() []time.Duration {
	out := make([]time.Duration, 0, len(t.seen))
	for id, at := range t.seen {
		out = append(out, at.Sub(t.due[id]))
	}
	return out
}

// ToCommit returns, for each counted broadcast, its event's occurred_at
// minus its scheduled_at: the part of the lateness spent before the relay
// (for Crier: timer, workflow task, publish activity and its commit).
func (t *Tally) ToCommit() []time.Duration {
	out := make([]time.Duration, 0, len(t.committed))
	for id, at := range t.committed {
		out = append(out, at.Sub(t.due[id]))
	}
	return out
}

// String is a one-line account for progress output.
func (t *Tally) String() string {
	s := fmt.Sprintf("%d/%d published", t.Published(), t.Expected())
	if t.Duplicates > 0 {
		s += fmt.Sprintf(", %d duplicates", t.Duplicates)
	}
	if t.Foreign > 0 {
		s += fmt.Sprintf(", %d foreign", t.Foreign)
	}
	return s
}
