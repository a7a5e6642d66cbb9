package due

import (
	"container/heap"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
)

// entry is a transition the dispatcher will apply at its instant.
type entry struct {
	id uuid.UUID
	op broadcast.Operation
	at time.Time // on PostgreSQL's clock
	// tries counts the attempts that found it not done and not done by
	// anyone else yet (its row held by another transaction).
	tries int
}

// queue holds entries earliest first.
type queue struct{ h entryHeap }

// reset replaces the queue's entries with due.
func (q *queue) reset(due []store.Due) {
	q.h = make(entryHeap, 0, len(due))
	for _, d := range due {
		q.h = append(q.h, entry{id: d.ID, op: d.Op, at: d.At})
	}
	heap.Init(&q.h)
}

func (q *queue) push(e entry) { heap.Push(&q.h, e) }

// earliest is the instant of the first entry.
func (q *queue) earliest() (time.Time, bool) {
	if len(q.h) == 0 {
		return time.Time{}, false
	}
	return q.h[0].at, true
}

// popUntil removes and returns the entries due at or before t.
func (q *queue) popUntil(t time.Time) []entry {
	var out []entry
	for len(q.h) > 0 && !q.h[0].at.After(t) {
		out = append(out, heap.Pop(&q.h).(entry))
	}
	return out
}

type entryHeap []entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h entryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
