package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBurstThenRetryAfter(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := New(Limit{PerSecond: 2, Burst: 3})
	l.now = c.now

	for range 3 {
		ok, _ := l.Allow("alice")
		require.True(t, ok)
	}
	ok, wait := l.Allow("alice")
	require.False(t, ok)
	require.InDelta(t, 500*time.Millisecond, wait, float64(time.Millisecond))
	require.Equal(t, 1, RetryAfterSeconds(wait))

	ok, _ = l.Allow("bob")
	require.True(t, ok, "keys are limited separately")

	c.t = c.t.Add(500 * time.Millisecond)
	ok, _ = l.Allow("alice")
	require.True(t, ok, "a token came back")
}

func TestRefusedCallsCostNothing(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := New(Limit{PerSecond: 1, Burst: 1})
	l.now = c.now
	l.Allow("k")
	for range 100 {
		ok, _ := l.Allow("k") // hammering while limited must not push the wait out
		require.False(t, ok)
	}
	c.t = c.t.Add(time.Second)
	ok, _ := l.Allow("k")
	require.True(t, ok)
}

func TestIdleKeysAreForgotten(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := New(Limit{PerSecond: 1})
	l.now = c.now
	l.Allow("a")
	c.t = c.t.Add(11 * time.Minute)
	l.Allow("b")
	require.Len(t, l.buckets, 1)
}

func TestDisabled(t *testing.T) {
	t.Parallel()
	var nilLimiter *Limiter
	ok, _ := nilLimiter.Allow("x")
	require.True(t, ok)
	ok, _ = New(Limit{}).Allow("x")
	require.True(t, ok)
}
