package bench

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAggregate(t *testing.T) {
	t.Parallel()
	sum := func(p50, p99, most int) Summary {
		return Summary{Count: 10, P50: time.Duration(p50) * time.Millisecond, P99: time.Duration(p99) * time.Millisecond, Max: time.Duration(most) * time.Millisecond}
	}
	results := []Result{
		{System: "Crier", N: 1000, Run: 1, Lateness: sum(10, 50, 60)},
		{System: "poller", N: 1000, Run: 1, Phase: 20 * time.Second, Lateness: sum(20010, 20100, 20200), AfterPhase: sum(10, 100, 200)},
		{System: "Crier", N: 1000, Run: 2, Lateness: sum(30, 70, 80), Missing: 2, Duplicates: 1, CreatedLate: true},
		{System: "Crier", N: 1000, Run: 3, Err: errors.New("Kafka down")},
		{System: "Crier", N: 1000, Run: 4, Lateness: sum(20, 60, 90)},
	}
	figs := Aggregate(results)
	require.Len(t, figs, 2)
	crier := figs[0]
	require.Equal(t, "Crier", crier.System)
	require.Equal(t, 3, crier.Runs)
	require.Equal(t, 1, crier.Failed, "a run with an error is counted apart, not in the figures")
	require.Equal(t, 1, crier.LateRuns)
	require.Equal(t, 2, crier.Missing)
	require.Equal(t, 1, crier.Duplicates)
	require.Equal(t, Spread{Runs: 3, Median: 20 * time.Millisecond, Min: 10 * time.Millisecond, Max: 30 * time.Millisecond}, crier.P50)
	require.Equal(t, 80*time.Millisecond, crier.Max.Median)
	require.Zero(t, crier.AfterP50.Runs, "no phase, no figures less the phase")
	require.Equal(t, 10*time.Millisecond, figs[1].AfterP50.Median)
}

func TestWriteMarkdownRatios(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	r := Report{PollInterval: time.Minute, Outcome: Outcome{Results: []Result{
		{System: "Crier", N: 1, Run: 1, Lateness: Summary{Count: 1, P50: 30 * time.Millisecond, P99: 30 * time.Millisecond, Max: 30 * time.Millisecond}},
		{System: "naive", N: 1, Run: 1, Lateness: Summary{Count: 1, P50: 60 * time.Millisecond, P99: 60 * time.Millisecond, Max: 60 * time.Millisecond}},
	}, Skipped: []string{"N=10000: budget"}}}
	require.NoError(t, r.WriteMarkdown(&b))
	require.Contains(t, b.String(), "| naive (measured) | 0.5 (2× less late) | 0.5 (2× less late) | 0.5 (2× less late) |")
	require.Contains(t, b.String(), "- N=10000: budget")
}

func TestFormats(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1,000", fmtCount(1000))
	require.Equal(t, "10,000", fmtCount(10000))
	require.Equal(t, "1", fmtCount(1))
	require.Equal(t, "31.0 ms", fmtDuration(31*time.Millisecond))
	require.Equal(t, "2.50 s", fmtDuration(2500*time.Millisecond))
	require.Equal(t, "n/a", fmtRatio(Ratio(time.Second, 0)))
	require.Equal(t, "1.5 (1.5× later)", fmtRatio(1.5))
}
