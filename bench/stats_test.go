package bench

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func ms(values ...int) []time.Duration {
	out := make([]time.Duration, len(values))
	for i, v := range values {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	t.Parallel()
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted on purpose
	}
	thousand := make([]int, 1000)
	for i := range thousand {
		thousand[i] = i + 1
	}
	cases := []struct {
		name   string
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"median of three", ms(30, 10, 20), 50, 20 * time.Millisecond},
		{"median of four is the second, not an average", ms(40, 10, 30, 20), 50, 20 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the maximum", ms(hundred...), 100, 100 * time.Millisecond},
		{"p99 of 1,000 is the 990th", ms(thousand...), 99, 990 * time.Millisecond},
		{"p50 of 1,000 is the 500th", ms(thousand...), 50, 500 * time.Millisecond},
		{"p99 of 10 is the maximum", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"tiny p is the minimum", ms(5, 1, 3), 0.001, time.Millisecond},
		{"negative lateness sorts first", ms(-5, 10, 0), 50, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Percentile(tc.values, tc.p))
		})
	}
}

func TestPercentileLeavesInputUnsorted(t *testing.T) {
	t.Parallel()
	values := ms(3, 1, 2)
	Percentile(values, 50)
	require.Equal(t, ms(3, 1, 2), values)
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	require.Equal(t, Summary{}, Summarize(nil))
	require.Equal(t, Summary{Count: 4, P50: 2 * time.Millisecond, P99: 9 * time.Millisecond, Max: 9 * time.Millisecond},
		Summarize(ms(9, 1, 2, 3)))
}

func TestSpreadOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, Spread{}, SpreadOf(nil))
	require.Equal(t, Spread{Runs: 1, Median: 5 * time.Millisecond, Min: 5 * time.Millisecond, Max: 5 * time.Millisecond}, SpreadOf(ms(5)))
	require.Equal(t, Spread{Runs: 3, Median: 20 * time.Millisecond, Min: 10 * time.Millisecond, Max: 90 * time.Millisecond}, SpreadOf(ms(90, 10, 20)))
	require.Equal(t, Spread{Runs: 2, Median: 15 * time.Millisecond, Min: 10 * time.Millisecond, Max: 20 * time.Millisecond}, SpreadOf(ms(20, 10)),
		"an even count takes the mean of the middle two")
}

func TestRatio(t *testing.T) {
	t.Parallel()
	require.InDelta(t, 0.25, Ratio(time.Second, 4*time.Second), 1e-12)
	require.True(t, math.IsNaN(Ratio(time.Second, 0)))
}
