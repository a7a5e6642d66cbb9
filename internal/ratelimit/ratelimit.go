package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a rate and a burst.
type Limit struct {
	// PerSecond is the sustained rate; zero or less disables the limit.
	PerSecond float64
	// Burst is how many may come at once. Default max(1, PerSecond).
	Burst int
}

// Limiter is a token bucket per key.
type Limiter struct {
	limit Limit
	idle  time.Duration
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweepAt time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a Limiter; keys unused for 10 minutes are forgotten.
func New(l Limit) *Limiter {
	if l.Burst <= 0 {
		l.Burst = int(math.Max(1, math.Ceil(l.PerSecond)))
	}
	return &Limiter{limit: l, idle: 10 * time.Minute, now: time.Now, buckets: map[string]*bucket{}}
}

// Allow takes one token for key. When none is left it reports false and how
// long until one is (for a Retry-After header).
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.limit.PerSecond <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.limit.PerSecond), l.limit.Burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// sweep forgets idle keys, at most once a minute.
func (l *Limiter) sweep(now time.Time) {
	if now.Before(l.sweepAt) {
		return
	}
	l.sweepAt = now.Add(time.Minute)
	for k, b := range l.buckets {
		if now.Sub(b.seen) > l.idle {
			delete(l.buckets, k)
		}
	}
}

// RetryAfterSeconds rounds a wait up to whole seconds, at least 1, for a
// Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
