package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLeadSpreadsABurstAheadOfIt(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	already := 0
	count := func(_ context.Context, at time.Time, window time.Duration) (int, error) {
		require.Equal(t, due, at)
		require.Equal(t, time.Second, window)
		return already, nil
	}
	l := Lead{Base: 5 * time.Second, Rate: 200, Count: count}

	require.Equal(t, 5*time.Second, l.For(context.Background(), due), "a lone broadcast gets the base lead")
	already = 1000
	require.Equal(t, 10*time.Second, l.For(context.Background(), due), "the 1,001st wakes 1,000 slots of 5 ms earlier")
	already = 1_000_000
	require.Equal(t, MaxLead, l.For(context.Background(), due), "never more than MaxLead")

	failing := Lead{Base: 5 * time.Second, Rate: 200, Count: func(context.Context, time.Time, time.Duration) (int, error) {
		return 0, errors.New("connection refused")
	}}
	require.Equal(t, 5*time.Second, failing.For(context.Background(), due), "counting is best effort")
	require.Equal(t, 5*time.Second, Lead{Base: 5 * time.Second}.For(context.Background(), due), "no rate: everyone gets the base")
	require.Zero(t, Lead{Rate: 200, Count: count}.For(context.Background(), due), "no base: waking early is off")
}

func TestTaskTimeoutCoversTheHold(t *testing.T) {
	t.Parallel()
	require.Zero(t, taskTimeout(0), "no hold: Temporal's default")
	for _, lead := range []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, MaxLead} {
		tt := taskTimeout(lead)
		// The SDK keeps a task alive at 80 % of its timeout; the hold must
		// end first, with room for a burst's completions to queue.
		require.GreaterOrEqual(t, tt*8/10, lead+5*time.Second, "lead %s", lead)
		require.LessOrEqual(t, tt, 120*time.Second, "Temporal refuses workflow task timeouts over 2 minutes")
	}
}
