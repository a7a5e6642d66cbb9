package bench

import (
	"strings"
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

func TestSSEParserKeepsWhatTheScenarioNeeds(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	stream := ": caught up\n\n" +
		": heartbeat\n\n" +
		"id: v1:1.2.3.4.5.6\nevent: broadcast\ndata: {\"id\":\"" + id.String() + "\",\"title\":\"" +
		strings.Repeat("long ", 200) + "\"}\n\n" +
		"id: v1:1.2.3.4.5.7\r\nevent: retract\r\ndata: {\"id\":\"" + id.String() + "\",\"reason\":\"cancelled\"}\r\n\r\n"
	// Any split of the bytes between reads gives the same events.
	for _, size := range []int{1, 7, 512, len(stream)} {
		var (
			p   sseParser
			got []sseEvent
		)
		for b := []byte(stream); len(b) > 0; {
			n := min(size, len(b))
			p.feed(b[:n], func(ev sseEvent) { got = append(got, ev) })
			b = b[n:]
		}
		require.Equal(t, []sseEvent{
			{comment: "caught up"}, {comment: "heartbeat"},
			{name: "broadcast", id: id}, {name: "retract", id: id},
		}, got, "reads of %d bytes", size)
	}
}

func TestFmtBytes(t *testing.T) {
	t.Parallel()
	for b, want := range map[float64]string{512: "512 B", 14.3 * 1024: "14.3 KiB", 1464 << 20: "1.43 GiB", 486 << 20: "486 MiB"} {
		require.Equal(t, want, fmtBytes(b))
	}
}
