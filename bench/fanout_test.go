package bench

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestFanoutCountsEachClientOnceAndTheMissing(t *testing.T) {
	t.Parallel()
	id, other := uuid.New(), uuid.New()
	appended := time.Unix(1_800_000_000, 0)
	at := func(ms int) time.Time { return appended.Add(time.Duration(ms) * time.Millisecond) }
	client := func(arrivals ...arrival) *sseClient { return &sseClient{arrivals: arrivals} }
	clients := []*sseClient{
		client(arrival{id, at(10)}),
		client(arrival{other, at(1)}, arrival{id, at(30)}, arrival{id, at(500)}), // read twice: counts at its first
		client(arrival{other, at(2)}),                                            // only another broadcast: missing
		client(),                                                                 // nothing at all: missing
		client(arrival{id, at(20)}),
	}

	var r fanoutRun
	r.tallyArrivals(clients, id, appended)

	require.Equal(t, 3, r.Latency.Count)
	require.Equal(t, 2, r.Missing)
	require.Equal(t, 1, r.Duplicates)
	require.Equal(t, 10*time.Millisecond, r.First)
	require.Equal(t, 20*time.Millisecond, r.Latency.P50)
	require.Equal(t, 30*time.Millisecond, r.Latency.Max, "a client's later read never counts")
}

func TestFanoutGoalsFailOnMissingClientsAndMemory(t *testing.T) {
	t.Parallel()
	lat := Summary{Count: 9_999, P50: 50 * time.Millisecond, P99: 100 * time.Millisecond, Max: 120 * time.Millisecond}
	memory := func(perConn float64) fanoutMemory {
		return fanoutMemory{before: nodeMemory{rss: 40 << 20}, after: nodeMemory{rss: 40<<20 + perConn*10_000}, conns: 10_000}
	}
	complete := fanoutSection(memory(12<<10), []fanoutRun{{Run: 1, Latency: lat}})
	require.True(t, complete.Goals[0].Met)
	require.True(t, complete.Goals[1].Met)
	require.Contains(t, complete.Goals[1].Reached, "12 KiB")

	short := fanoutSection(memory(20<<10), []fanoutRun{{Run: 1, Latency: lat, Missing: 1}})
	require.False(t, short.Goals[0].Met, "a client that never got the broadcast fails the goal")
	require.Contains(t, short.Goals[0].Reached, "1 missing")
	require.False(t, short.Goals[1].Met)
}

func TestFmtBytes(t *testing.T) {
	t.Parallel()
	for b, want := range map[float64]string{512: "512 B", 14.3 * 1024: "14.3 KiB", 1464 << 20: "1.43 GiB", 486 << 20: "486 MiB"} {
		require.Equal(t, want, fmtBytes(b))
	}
}
