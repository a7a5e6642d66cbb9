// Package retry spaces the attempts of Crier's background loops (the outbox
// relay, the audience materializer, the stream tail) while PostgreSQL or
// Kafka fails: exponential backoff with full jitter, so the processes that
// lost the same dependency do not all come back to it in step.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

const (
	// DefaultBase is the longest wait after a first failure.
	DefaultBase = 200 * time.Millisecond
	// DefaultMax caps every wait, so a dependency that is back is used again
	// within seconds of its return however long it was away.
	DefaultMax = 5 * time.Second
)

// Backoff is a retry schedule. The wait after the nth failure in a row is a
// random duration between zero and min(Max, Base·2ⁿ⁻¹) ("full jitter"). The
// loop counts its failures in a row and starts again from 1 after a success;
// Backoff holds no state, so one value may serve any number of loops. The
// zero value uses the defaults.
type Backoff struct {
	// Base is the longest wait after a first failure. Default DefaultBase.
	Base time.Duration
	// Max caps every wait. Default DefaultMax.
	Max time.Duration
	// Rand returns a uniform random integer in [0, n). Default
	// math/rand/v2.Int64N; tests inject their own.
	Rand func(n int64) int64
	// Sleep waits d, or less when ctx ends, and reports whether it waited
	// all of d. Default a timer; tests inject their own so no test waits on
	// the wall clock.
	Sleep func(ctx context.Context, d time.Duration) bool
}

// Delay returns the wait after the attempt-th failure in a row (from 1).
func (b Backoff) Delay(attempt int) time.Duration {
	base, ceiling := b.Base, b.Max
	if base <= 0 {
		base = DefaultBase
	}
	if ceiling <= 0 {
		ceiling = DefaultMax
	}
	d := min(base, ceiling)
	for i := 1; i < attempt && d < ceiling; i++ { // doubling, not a shift: a shift can overflow
		d = min(2*d, ceiling)
	}
	random := b.Rand
	if random == nil {
		random = rand.Int64N
	}
	return time.Duration(random(int64(d) + 1))
}

// Wait waits Delay(attempt) and reports whether it did; false means ctx
// ended first and the loop should stop.
func (b Backoff) Wait(ctx context.Context, attempt int) bool {
	if ctx.Err() != nil {
		return false
	}
	sleep := b.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	return sleep(ctx, b.Delay(attempt))
}

// Wait waits the default schedule's delay after the attempt-th failure in a
// row; false means ctx ended first.
func Wait(ctx context.Context, attempt int) bool {
	return Backoff{}.Wait(ctx, attempt)
}

// Sleep waits d, or less when ctx ends, and reports whether it waited all
// of d.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return ctx.Err() == nil
	}
}
