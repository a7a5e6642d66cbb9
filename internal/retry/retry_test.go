package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/retry"
)

// highest draws the largest value allowed, so Delay returns its ceiling.
func highest(n int64) int64 { return n - 1 }

func TestDelayDoublesUpToTheCap(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	for _, tt := range []struct {
		name     string
		backoff  retry.Backoff
		attempts []time.Duration // ceilings after failures 1, 2, 3, ...
	}{
		{"defaults", retry.Backoff{Rand: highest},
			[]time.Duration{200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 5000 * ms}},
		{"own schedule", retry.Backoff{Base: 10 * ms, Max: 35 * ms, Rand: highest},
			[]time.Duration{10 * ms, 20 * ms, 35 * ms, 35 * ms}},
		{"base above the cap", retry.Backoff{Base: time.Second, Max: 300 * ms, Rand: highest},
			[]time.Duration{300 * ms, 300 * ms}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i, want := range tt.attempts {
				require.Equal(t, want, tt.backoff.Delay(i+1), "after failure %d", i+1)
			}
		})
	}
}

func TestDelayIsFullJitter(t *testing.T) {
	t.Parallel()
	var asked []int64
	b := retry.Backoff{Rand: func(n int64) int64 { asked = append(asked, n); return 0 }}
	require.Zero(t, b.Delay(3), "the lowest draw waits nothing")
	require.Equal(t, []int64{int64(800*time.Millisecond) + 1}, asked, "drawn from zero to the ceiling, both included")

	for attempt := range 50 {
		d := retry.Backoff{}.Delay(attempt)
		require.True(t, d >= 0 && d <= retry.DefaultMax, "failure %d: %s", attempt, d)
	}
}

func TestDelayRestartsWithTheAttempt(t *testing.T) {
	t.Parallel()
	b := retry.Backoff{Rand: highest}
	require.Equal(t, retry.DefaultMax, b.Delay(1000), "a long outage waits the cap, without overflowing")
	require.Equal(t, retry.DefaultBase, b.Delay(1), "after a success the loop counts from 1 again")
	require.Equal(t, retry.DefaultBase, b.Delay(0), "a count below 1 is a first failure")
}

func TestWaitSleepsTheDelay(t *testing.T) {
	t.Parallel()
	var slept []time.Duration
	b := retry.Backoff{Rand: highest, Sleep: func(_ context.Context, d time.Duration) bool {
		slept = append(slept, d)
		return true
	}}
	for attempt := 1; attempt <= 3; attempt++ {
		require.True(t, b.Wait(context.Background(), attempt))
	}
	require.Equal(t, []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}, slept)
}

func TestWaitStopsWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	slept := 0
	b := retry.Backoff{Sleep: func(ctx context.Context, _ time.Duration) bool {
		slept++
		cancel() // the context ends during the wait
		return ctx.Err() == nil
	}}
	require.False(t, b.Wait(ctx, 1), "ended during the wait")
	require.False(t, b.Wait(ctx, 2), "ended before the wait")
	require.Equal(t, 1, slept, "no wait once the context has ended")
}

func TestSleep(t *testing.T) {
	t.Parallel()
	require.True(t, retry.Sleep(context.Background(), 0), "a wait that ran its course")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.False(t, retry.Sleep(ctx, time.Hour), "an ended context cuts the wait short")
	require.False(t, retry.Wait(ctx, 1))
}
