package workflows

import (
	"context"
	"time"
)

// MaxLead bounds how early a workflow wakes before its broadcast is due.
const MaxLead = time.Minute

// Lead decides how early a new broadcast's workflow wakes (its input's
// PublishLead). Announcements cluster on round times, and Temporal wakes a
// burst's workflows at a bounded rate; if they all woke together, the last
// ones would publish seconds late. So each new broadcast wakes Base before
// its time plus one slot for each broadcast already due around the same
// second, at Rate slots per second: a burst's wake-ups are spread over the
// time Temporal needs for them, all ahead of the due time, and every
// workflow then holds its publish in the worker until the exact time.
type Lead struct {
	// Base is the lead of a lone broadcast (CRIER_PUBLISH_LEAD); zero turns
	// waking early off.
	Base time.Duration
	// Rate is how many workflows of a burst Temporal is expected to wake
	// per second (CRIER_BURST_WAKE_RATE); zero gives everyone Base.
	Rate float64
	// Count counts the scheduled broadcasts due within window of at
	// (store.CountDueAround). Nil gives everyone Base.
	Count func(ctx context.Context, at time.Time, window time.Duration) (int, error)
}

// For returns the lead of a new broadcast due at at. Counting is best
// effort: on an error the broadcast gets Base.
func (l Lead) For(ctx context.Context, at time.Time) time.Duration {
	if l.Base <= 0 || l.Rate <= 0 || l.Count == nil {
		return l.After(0)
	}
	n, err := l.Count(ctx, at, time.Second)
	if err != nil {
		n = 0
	}
	return l.After(n)
}

// After is the lead of a broadcast due when n others already are.
func (l Lead) After(n int) time.Duration {
	if l.Base <= 0 {
		return 0
	}
	if l.Rate <= 0 {
		return min(l.Base, MaxLead)
	}
	return min(l.Base+time.Duration(float64(n)/l.Rate*float64(time.Second)), MaxLead)
}

// taskTimeout is the workflow task timeout for a workflow that holds its
// publish for up to lead. The task must outlive the hold and then the burst:
// at the due time thousands of held tasks complete at once, and Temporal
// takes them at its own pace (tens of seconds for 10,000 on a small
// cluster); a task that timed out meanwhile runs again, adding to the queue.
// And the SDK reports a task that runs a local activity for 80 % of its
// timeout as alive by completing it and starting another: thousands of extra
// round trips just before the due time. So the hold plus a minute, within
// Temporal's limit of two. The cost: a worker that dies while holding a
// task delays that broadcast by up to this much. Zero keeps Temporal's
// default (10 s) for workflows that do not wake early.
func taskTimeout(lead time.Duration) time.Duration {
	if lead <= 0 {
		return 0
	}
	return min(lead+time.Minute, 2*time.Minute)
}
