package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of values:
// the smallest value that at least p percent of the values do not exceed.
// It is always one of the values, never an interpolation, so "p99 of 1,000"
// is the 990th smallest. It returns 0 for no values.
func Percentile(values []time.Duration, p float64) time.Duration {
	if len(values) == 0 {
		return 0
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return percentileOfSorted(sorted, p)
}

func percentileOfSorted(sorted []time.Duration, p float64) time.Duration {
	// p*n/100 rather than p/100*n: exact for the whole-number p used here.
	rank := int(math.Ceil(p * float64(len(sorted)) / 100))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Summary is the lateness of one run of one scenario.
type Summary struct {
	Count         int
	P50, P99, Max time.Duration
}

// Summarize returns the nearest-rank p50 and p99 and the maximum of values.
func Summarize(values []time.Duration) Summary {
	if len(values) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return Summary{
		Count: len(sorted),
		P50:   percentileOfSorted(sorted, 50),
		P99:   percentileOfSorted(sorted, 99),
		Max:   sorted[len(sorted)-1],
	}
}

// Spread is one figure over repeated runs: its median and its range.
type Spread struct {
	Runs             int
	Median, Min, Max time.Duration
}

// SpreadOf returns the median (the mean of the two middle values for an even
// count) and the minimum and maximum of one figure over runs.
func SpreadOf(values []time.Duration) Spread {
	if len(values) == 0 {
		return Spread{}
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	n := len(sorted)
	median := sorted[n/2]
	if n%2 == 0 {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return Spread{Runs: n, Median: median, Min: sorted[0], Max: sorted[n-1]}
}

// Ratio is a/b, or NaN when b is zero (no figure to compare with).
func Ratio(a, b time.Duration) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// FormatDuration shows a duration as the reports do, to three significant
// figures in ms or s: 2.31 ms, 412 ms, 1.25 s, 61.4 s.
func FormatDuration(d time.Duration) string { return fmtDuration(d) }
