package bench

import (
	"fmt"
	"strings"
	"time"
)

// fanoutSection is the fan-out's part of BENCHMARKS.md.
func fanoutSection(mem fanoutMemory, runs []fanoutRun) Section {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("| run | clients reached | missing | duplicates | first | p50 | p99 | max | node CPU | error |")
	p("|---|---|---|---|---|---|---|---|---|---|")
	var p50, p99, maxes []time.Duration
	missing, done := 0, 0
	for _, r := range runs {
		errText := ""
		if r.Err != nil {
			errText = strings.ReplaceAll(r.Err.Error(), "|", "/")
		} else {
			done++
			missing += r.Missing
			p50, p99, maxes = append(p50, r.Latency.P50), append(p99, r.Latency.P99), append(maxes, r.Latency.Max)
		}
		p("| %d | %s | %d | %d | %s | %s | %s | %s | %s | %s |", r.Run, fmtCount(r.Latency.Count), r.Missing, r.Duplicates,
			fmtDuration(r.First), fmtDuration(r.Latency.P50), fmtDuration(r.Latency.P99), fmtDuration(r.Latency.Max),
			fmtDuration(r.NodeCPU), errText)
	}
	p("")
	p("Over the %d completed run(s), median (range): p50 %s, p99 %s, max %s.", done,
		fmtSpread(SpreadOf(p50)), fmtSpread(SpreadOf(p99)), fmtSpread(SpreadOf(maxes)))
	p("")
	per := mem.perConn()
	p("The node's memory before the clients connected, and after, with %s idle streams open (by its own count; "+
		"connecting took %s):", fmtCount(int(mem.after.streams)), fmtDuration(mem.connectTook))
	p("")
	p("| | RSS | Go heap in use | goroutine stacks | goroutines |")
	p("|---|---|---|---|---|")
	p("| before | %s | %s | %s | %.0f |", fmtBytes(mem.before.rss), fmtBytes(mem.before.heapInuse),
		fmtBytes(mem.before.stackInuse), mem.before.goroutines)
	p("| after | %s | %s | %s | %.0f |", fmtBytes(mem.after.rss), fmtBytes(mem.after.heapInuse),
		fmtBytes(mem.after.stackInuse), mem.after.goroutines)
	p("| **per connection** | **%s** | %s | %s | %.2f |", fmtBytes(per.rss), fmtBytes(per.heapInuse),
		fmtBytes(per.stackInuse), per.goroutines)

	latency := Goal{What: "fan-out to 10,000 SSE clients: p99 ≤ 250 ms after the Kafka append", Reached: "no completed run"}
	if done > 0 {
		s := SpreadOf(p99)
		latency.Reached = "p99 " + fmtSpread(s)
		if missing > 0 {
			latency.Reached += fmt.Sprintf(", %d missing", missing)
		}
		latency.Met = s.Median <= fanoutLatencyGoal && missing == 0 && done == len(runs)
	}
	memory := Goal{What: "memory per idle SSE connection ≤ 16 KiB", Reached: fmtBytes(per.rss) + " (RSS growth / connections)",
		Met: per.rss <= fanoutMemoryGoal}
	return Section{Title: "SSE fan-out", Method: fanoutMethod, Results: b.String(), Goals: []Goal{latency, memory}}
}

const fanoutMethod = `
**Fan-out.** One real ` + "`crier all`" + ` node (its own database and topic, ` + "`CRIER_ENV=development`" + `) holds 10,000 event
streams (` + "`GET /api/v1/me/stream`" + `), each of a distinct user (a user may hold 5) with a bearer token the benchmark
signs with the node's ` + "`CRIER_JWT_SECRET`" + `. The clients run in the benchmark process, 64 connecting at a time, from
127.0.0.2 to 127.0.0.9 in turn (loopback only; 1,250 ephemeral ports per source address). Each is a raw TCP connection
with a hand-written HTTP/1.1 request and one goroutine reading it through a 1 KiB buffer; a client counts as connected
once the server's ` + "`: caught up`" + ` comment says it is registered for live events. The one setting changed for the
run is ` + "`CRIER_RATE_PER_ADDRESS=100000:100000`" + `: the default, 50 requests/s and a burst of 100 per client address,
would refuse most of the 1,250 streams from each source address. The per-user limits are the defaults.

**Latency.** Per run, an admin creates one ALL broadcast to send now through the API (` + "`POST /api/v1/broadcasts`" + `).
Each client notes when it reads the ` + "`broadcast`" + ` event, once per client (at its first read); the reference is the
Kafka append time (` + "`LogAppendTime`" + `, in whole milliseconds) of the broadcast's ` + "`BROADCAST_PUBLISHED`" + `
event, read by an independent partition consumer. Per run: nearest-rank p50 and p99 and the maximum of read time − append
time over the clients, and the first client's (Kafka to the node's hub, before the fan-out itself); clients without it
30 s after the append are missing. The streams stay open across runs. Node CPU is the CPU time ` + "`crier all`" + ` used
from the create request until the last client had the broadcast; the clients share the machine's CPUs with it.

**Memory.** The node's resident set (` + "`VmRSS`" + ` in ` + "`/proc/<pid>/status`" + `) 3 s after it is ready, and again
once every client has connected and stayed idle for 10 s (a heartbeat every 15 s). The growth divided by the
connections is the memory per idle connection; it includes the per-user state of 10,000 new users (rate-limit bucket,
directory cache). The Go runtime's own figures from the node's ` + "`/metrics`" + ` (heap in use, goroutine stacks,
goroutines) show where it goes; RSS also holds the collector's headroom and freed memory not yet returned to the kernel.
`
