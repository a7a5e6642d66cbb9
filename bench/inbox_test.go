package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInboxRecorderKeepsPagesAndErrorsApart(t *testing.T) {
	t.Parallel()
	rec := newInboxRecorder(2)
	boom := errors.New("connection refused")
	for i, took := range ms(5, 1, 4, 2, 3) {
		rec.add(i%2, took, false, nil)
	}
	rec.add(1, 9*time.Millisecond, true, nil)
	rec.add(0, 0, false, boom)
	rec.add(1, 0, true, errors.New("later"))

	run := rec.result(2*time.Second, cpuUse{Node: 0.5})
	require.Equal(t, Summary{Count: 5, P50: 3 * time.Millisecond, P99: 5 * time.Millisecond, Max: 5 * time.Millisecond}, run.First)
	require.Equal(t, Summary{Count: 1, P50: 9 * time.Millisecond, P99: 9 * time.Millisecond, Max: 9 * time.Millisecond}, run.Second)
	require.Equal(t, 6, run.All.Count, "failed requests have no latency")
	require.Equal(t, 9*time.Millisecond, run.All.Max)
	require.InDelta(t, 3.0, run.PerSecond, 1e-9, "answered requests per second")
	require.Equal(t, 2, run.Errors)
	require.ErrorIs(t, run.failure(), boom, "the first client's first error is reported")
	require.InDelta(t, 0.5, run.CPU.Node, 1e-9)
	require.NoError(t, newInboxRecorder(1).result(time.Second, cpuUse{}).failure())
}

func TestInboxRolesMatchTheSeed(t *testing.T) {
	t.Parallel()
	holders := map[string]int{}
	for u := range inboxUsers {
		roles := inboxRoles(u)
		require.Len(t, roles, 2)
		require.NotEqual(t, roles[0], roles[1], "user %d", u)
		for _, r := range roles {
			holders[r]++
		}
	}
	require.Len(t, holders, 50)
	for role, n := range holders {
		require.InDelta(t, 400, n, 10, role)
	}
	require.Equal(t, "user-00042", inboxUserID(42))
	require.Equal(t, []string{"team-42", "team-43"}, inboxRoles(42), "as the SQL: u % 50, then (u % 50 + 1 + (u / 50) % 49) % 50")
}

const metricsText = `# HELP crier_http_request_duration_seconds Time to answer HTTP requests.
# TYPE crier_http_request_duration_seconds histogram
crier_http_request_duration_seconds_bucket{method="GET",route="/api/v1/broadcasts",le="0.01"} 999
crier_http_request_duration_seconds_bucket{method="GET",route="/api/v1/me/broadcasts",le="0.001"} %d
crier_http_request_duration_seconds_bucket{method="GET",route="/api/v1/me/broadcasts",le="0.005"} %d
crier_http_request_duration_seconds_bucket{method="GET",route="/api/v1/me/broadcasts",le="0.01"} %d
crier_http_request_duration_seconds_bucket{method="GET",route="/api/v1/me/broadcasts",le="+Inf"} %d
crier_http_request_duration_seconds_sum{method="GET",route="/api/v1/me/broadcasts"} 12.5
`

func TestServerHistogramShareWithinGoal(t *testing.T) {
	t.Parallel()
	before, err := parseLatencyHistogram(fmt.Sprintf(metricsText, 10, 20, 30, 40))
	require.NoError(t, err)
	after, err := parseLatencyHistogram(fmt.Sprintf(metricsText, 510, 1010, 1020, 1040))
	require.NoError(t, err)
	share, ok := after.since(before).within(10 * time.Millisecond)
	require.True(t, ok)
	require.InDelta(t, 990.0/1000, share, 1e-9, "of the 1,000 answers between the scrapes, 990 within 10 ms")
	_, ok = after.since(before).within(7 * time.Millisecond)
	require.False(t, ok, "not a bucket bound")
	_, ok = after.since(after).within(10 * time.Millisecond)
	require.False(t, ok, "no answers in between")
	_, ok = (*latencyHistogram)(nil).within(10 * time.Millisecond)
	require.False(t, ok, "no histogram")
	_, err = parseLatencyHistogram("go_goroutines 12\n")
	require.Error(t, err)
}

func TestOverRunsAndTheirFormat(t *testing.T) {
	t.Parallel()
	hist := func(within, total float64) *latencyHistogram {
		return &latencyHistogram{bounds: []float64{0.01, 1e308}, counts: []float64{within, total}}
	}
	runs := []inboxRun{
		{All: Summarize(ms(1, 2, 30)), Elapsed: time.Second, Server: hist(99, 100)},
		{All: Summarize(ms(1, 3, 10)), Elapsed: 2 * time.Second, Server: hist(100, 100)},
		{All: Summarize(ms(2, 4, 20)), Elapsed: time.Second},
	}
	f := overRuns(runs, func(r inboxRun) Summary { return r.All }, true)
	require.Equal(t, 9, f.Count)
	require.Equal(t, Spread{Runs: 3, Median: 20 * time.Millisecond, Min: 10 * time.Millisecond, Max: 30 * time.Millisecond}, f.P99)
	require.Equal(t, []float64{3, 1.5, 3}, f.Rates)
	require.Equal(t, "3 (2 – 3)", fmtRates(f.Rates, fmtPerSecond))
	require.Equal(t, "99.50 % (99.00 % – 100.00 %)", fmtRates(f.Server, fmtShare), "the run without a histogram is left out")
	require.Empty(t, overRuns(runs, func(r inboxRun) Summary { return r.All }, false).Server)
	require.Empty(t, fmtRates(nil, fmtPerSecond))
	require.Equal(t, "4,372", fmtMedian([]float64{3336, 4372.4, 5060}, fmtPerSecond))

	runs[0].PerSecond, runs[1].PerSecond, runs[2].PerSecond = 300, 100, 200
	runs[2].CPU.Node = 0.7
	u, ok := medianCPU(runs)
	require.True(t, ok)
	require.InDelta(t, 0.7, u.Node, 1e-9, "the run of median throughput")
}

func TestProcessStat(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "stat")
	// A command name with spaces and a parenthesis, as /proc allows.
	stat := "4242 (postgres: a (b) c) S 4116 4116 4116 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0\n"
	require.NoError(t, os.WriteFile(path, []byte(stat), 0o600))
	require.Equal(t, int64(300), processTicks(path), "utime + stime")
	require.Equal(t, 4116, parentPID(path))
	require.Zero(t, processTicks(filepath.Join(t.TempDir(), "gone")))

	before := cpuSample{node: 100, postgres: 50, client: 10, busy: 1000}
	after := cpuSample{node: 300, postgres: 150, client: 60, busy: 1400}
	require.Equal(t, cpuUse{Node: 1, Postgres: 0.5, Client: 0.25, Machine: 2}, after.since(before, 2*time.Second))
}
