package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/crier/crier/internal/due"
)

// Report is what BENCHMARKS.md is written from.
type Report struct {
	Outcome Outcome
	// Scenarios are the other scenarios' sections, in the order they ran.
	Scenarios []ScenarioOutcome
	Machine   Machine
	// Command is the exact command that produced the report.
	Command string
	// PollInterval is the poller baseline's period.
	PollInterval time.Duration
	// Seed drew the poller's phases.
	Seed int64
}

// Figures is one system's lateness at one size over its completed runs.
type Figures struct {
	System                 string
	N                      int
	P50, P99, Max          Spread
	AfterP50, AfterMax     Spread // the poller's lateness less its phase
	Missing, Duplicates    int
	Runs, Failed, LateRuns int
}

// Aggregate groups results by size and system, in the order they appear.
func Aggregate(results []Result) []Figures {
	var out []Figures
	index := map[string]int{}
	samples := map[string][5][]time.Duration{}
	for _, r := range results {
		key := fmt.Sprintf("%d/%s", r.N, r.System)
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, Figures{System: r.System, N: r.N})
		}
		f := &out[i]
		if r.Err != nil || r.Lateness.Count == 0 {
			f.Failed++
			continue
		}
		f.Runs++
		f.Missing += r.Missing
		f.Duplicates += r.Duplicates
		if r.CreatedLate {
			f.LateRuns++
		}
		s := samples[key]
		for j, d := range []time.Duration{r.Lateness.P50, r.Lateness.P99, r.Lateness.Max} {
			s[j] = append(s[j], d)
		}
		if r.Phase > 0 {
			s[3] = append(s[3], r.AfterPhase.P50)
			s[4] = append(s[4], r.AfterPhase.Max)
		}
		samples[key] = s
	}
	for key, i := range index {
		s := samples[key]
		out[i].P50, out[i].P99, out[i].Max = SpreadOf(s[0]), SpreadOf(s[1]), SpreadOf(s[2])
		out[i].AfterP50, out[i].AfterMax = SpreadOf(s[3]), SpreadOf(s[4])
	}
	return out
}

// WriteMarkdown writes BENCHMARKS.md.
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	o := r.Outcome
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Crier benchmarks")
	p("")
	p("Written by `bench/cmd/crierbench` on %s UTC; the run took %s. Regenerate with:", o.Started.UTC().Format("2006-01-02 15:04"),
		o.Stopped.Sub(o.Started).Round(time.Second))
	p("")
	p("```sh\n%s\n```", r.Command)
	p("")
	p("`make bench` starts its own PostgreSQL, Kafka and Temporal on loopback (`scripts/stack.sh up .bench test`), runs every")
	p("scenario within `BENCH_BUDGET` (20 minutes by default, set-up included) and rewrites this file. `BENCH_RUNS` sets the")
	p("repetitions (default 2; `BENCH_LARGE_RUNS`, default 1, for the bursts of 10,000, which take minutes each),")
	p("`BENCH_SIZES` the burst sizes (default 1, 1,000 and 10,000), `BENCH_SCENARIOS` the scenarios (default all).")
	p("")
	writeGoals(p, r)
	writeMachine(p, r.Machine)
	if len(o.Results) > 0 {
		writeMethod(p, r)
		writeResults(p, r)
	}
	writeScenarios(p, r.Scenarios)
	if len(o.Results) > 0 {
		writeRuns(p, o.Results)
		writeMissing(p, o.Results)
	}
	if len(o.Skipped) > 0 {
		p("## Skipped")
		p("")
		for _, s := range o.Skipped {
			p("- %s", s)
		}
		p("")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMachine(p func(string, ...any), m Machine) {
	p("## Machine and versions")
	p("")
	p("| | |")
	p("|---|---|")
	p("| CPU | %d × %s (`nproc` = %d) |", m.CPUs, m.CPUModel, m.CPUs)
	p("| Memory | %.1f GiB |", m.MemoryGiB)
	p("| Kernel | %s |", m.Kernel)
	p("| Go | %s |", m.Go)
	p("| Temporal | %s (dev server, in-memory SQLite) |", m.Temporal)
	p("| Kafka | %s |", m.Kafka)
	p("| PostgreSQL | %s |", m.PostgreSQL)
	p("| Crier | commit %s |", m.Crier)
	p("")
}

func writeMethod(p func(string, ...any), r Report) {
	p("## What is measured")
	p("")
	p("**Burst.** N broadcasts are created ahead of time, all with the same whole-second `scheduled_at` (5 to 20 s ahead,")
	p("enough to create them all first; a run where creation overran the due time is flagged), `expires_at` a day later.")
	p("**Lateness** of a broadcast is the time its `BROADCAST_PUBLISHED` event was appended to Kafka minus its `scheduled_at`.")
	p("Every topic is created with `message.timestamp.type=LogAppendTime`, so the timestamp is the broker's own clock at")
	p("append, whoever produced the message; an independent reader (plain partition consumers, no group, from the end offsets")
	p("taken before creation) reads it. Each broadcast counts once, at its first append (delivery is at least once);")
	p("broadcasts that never arrive within 30 s + 5 ms × N after the due time (after the first poll, for the poller) are")
	p("reported missing. Per run: nearest-rank p50 and p99, and the maximum, over the N broadcasts. Per figure: the median over")
	p("runs, with the minimum–maximum over runs in brackets.")
	p("")
	p("The systems run one after another in each repetition (which one goes first rotates), on the same PostgreSQL,")
	p("Kafka and Temporal, each with its own database, topic and task queue:")
	p("")
	p("- **Crier**: the real `crier all` (API, worker, relay; `go build ./cmd/crier`) as a child process with its default")
	p("  configuration. Broadcasts are created with the API handler's two calls, `store.Insert` starting the `Broadcast`")
	p("  workflow inside the transaction, but without HTTP, so creating 10,000 takes seconds; creation is measured in its own")
	p("  scenario below. The worker's due dispatcher (`internal/due`) reads what falls due every %s and publishes it at its",
		fmtDuration(due.DefaultEvery))
	p("  instant, up to 500 broadcasts a statement; each workflow's own timer then finds its broadcast published.")
	p("- **%s**: the same, on a production-shaped Temporal instead of the dev server: the Temporal server", CrierOnServer)
	p("  (go.temporal.io/server, the version the CLI embeds) with its persistence and SQL visibility on the same PostgreSQL,")
	p("  schema applied with temporal-sql-tool (`scripts/temporal-server.sh`; 4 history shards). Not a baseline: no ratio.")
	p("- **naive workflow**: a workflow registered only in the benchmark, on a worker built with `worker.New` and default")
	p("  options: `workflow.Sleep` until `scheduled_at`, then one ordinary activity (`ExecuteActivity`, not local) calling")
	p("  Crier's `store.Publish` (the same guarded UPDATE + outbox insert). Crier's outbox relay, with its default")
	p("  configuration, runs in the benchmark process on that database and publishes to the baseline's topic.")
	p("- **%g s poller**: the seed's scheduler. Every %g s: `SELECT ... WHERE status = 'SCHEDULED' AND scheduled_at <= now()`,", r.PollInterval.Seconds(), r.PollInterval.Seconds())
	p("  then for each row in turn: an UPDATE claiming it (the seed's `IN_PROGRESS`, which Crier no longer has), send to Kafka,")
	p("  UPDATE to `SENT`. The send is asynchronous, as")
	p("  `KafkaTemplate.send` whose future the seed never waits on (acks=all, batches lingering up to 5 ms, as Kafka 4's Java")
	p("  producer). Its first poll after the due time comes at a **random phase**, uniform in [0, %s) (seed %d): a poller", fmtDuration(r.PollInterval), r.Seed)
	p("  runs at moments unrelated to when broadcasts are due. Waiting for whole periods would make `make bench` far too")
	p("  long, and one phase per run would make a few runs say little about the distribution, so the table also gives the")
	p("  poller's lateness less its phase (its own processing) and the **expected** lateness over a uniform phase, which is")
	p("  what a reader should compare with: expected p50 = %s + processing p50; worst case (phase just missed) =", fmtDuration(r.PollInterval/2))
	p("  %s + processing max.", fmtDuration(r.PollInterval))
	p("")
	p("**Caveat.** The services run in `make test`'s mode: PostgreSQL with `fsync=off`, `synchronous_commit=off`,")
	p("`full_page_writes=off`, Temporal's dev server with in-memory SQLite, one Kafka broker, all on one machine with the")
	p("benchmark itself. Absolute figures are therefore optimistic for a production cluster; the ratios between systems,")
	p("measured side by side on the same services, are the point.")
	p("")
}

func writeResults(p func(string, ...any), r Report) {
	figs := Aggregate(r.Outcome.Results)
	p("## Results: burst lateness")
	p("")
	sizes := []int{}
	for _, f := range figs {
		if len(sizes) == 0 || sizes[len(sizes)-1] != f.N {
			sizes = append(sizes, f.N)
		}
	}
	for _, n := range sizes {
		p("### N = %s", fmtCount(n))
		p("")
		p("| System | runs | p50 | p99 | max | missing | duplicates |")
		p("|---|---|---|---|---|---|---|")
		var crier *Figures
		var others []Figures
		for _, f := range figs {
			if f.N != n {
				continue
			}
			note := ""
			if f.Failed > 0 {
				note = fmt.Sprintf(" (+%d failed)", f.Failed)
			}
			if f.LateRuns > 0 {
				note += fmt.Sprintf(" (%d with creation past due)", f.LateRuns)
			}
			p("| %s | %d%s | %s | %s | %s | %d | %d |", f.System, f.Runs, note, fmtSpread(f.P50), fmtSpread(f.P99), fmtSpread(f.Max), f.Missing, f.Duplicates)
			if f.AfterP50.Runs > 0 {
				p("| ↳ %s less its phase | | %s | | %s | | |", f.System, fmtSpread(f.AfterP50), fmtSpread(f.AfterMax))
				p("| ↳ %s expected over phase | | %s | | %s (worst) | | |", f.System,
					fmtDuration(r.PollInterval/2+f.AfterP50.Median), fmtDuration(r.PollInterval+f.AfterMax.Median))
			}
			switch f.System {
			case "Crier":
				c := f
				crier = &c
			case CrierOnServer: // Crier too, on another Temporal: not a baseline
			default:
				others = append(others, f)
			}
		}
		p("")
		if crier == nil || crier.Runs == 0 {
			p("No completed Crier run at this size, so no ratios.")
			p("")
			continue
		}
		p("Crier's lateness as a ratio to each baseline's (medians over runs; below 1 means Crier is less late):")
		p("")
		p("| Crier / | p50 | p99 | max |")
		p("|---|---|---|---|")
		for _, f := range others {
			if f.Runs == 0 {
				continue
			}
			p("| %s (measured) | %s | %s | %s |", f.System, fmtRatio(Ratio(crier.P50.Median, f.P50.Median)),
				fmtRatio(Ratio(crier.P99.Median, f.P99.Median)), fmtRatio(Ratio(crier.Max.Median, f.Max.Median)))
			if f.AfterP50.Runs > 0 {
				p("| %s (expected over phase; max: worst phase) | %s | | %s |", f.System,
					fmtRatio(Ratio(crier.P50.Median, r.PollInterval/2+f.AfterP50.Median)),
					fmtRatio(Ratio(crier.Max.Median, r.PollInterval+f.AfterMax.Median)))
			}
		}
		p("")
	}
}

func writeRuns(p func(string, ...any), results []Result) {
	p("## Every run")
	p("")
	p("`to commit` is the event's `occurred_at` minus `scheduled_at` (p50 / max): for Crier and the naive workflow, the part")
	p("of the lateness spent before the relay (timer, workflow task, publish activity, commit); the rest is the relay and")
	p("Kafka. For the poller it is when it built the message. `SSE client` is, for Crier, when a live client (one user of the")
	p("role the broadcasts target, connected to the node's `/api/v1/me/stream` throughout) read each broadcast, minus")
	p("`scheduled_at`: what a user sees (that node runs with `CRIER_SSE_QUEUE=20000`, so that one client can take a whole")
	p("burst at once without being dropped as too slow); see the fan-out scenario for 10,000 clients.")
	p("")
	p("| N | run | system | due (UTC) | created in | first look | p50 | p99 | max | to commit | SSE client p50 / p99 | missing | dup. | error |")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		errText := ""
		if r.Err != nil {
			errText = strings.ReplaceAll(r.Err.Error(), "|", "/")
		}
		created := fmtDuration(r.Created)
		if r.CreatedLate {
			created += " (past due)"
		}
		look := "–"
		if r.Phase > 0 {
			look = "+" + fmtDuration(r.Phase)
		}
		client := "–"
		if r.ToClient.Count > 0 {
			client = fmtDuration(r.ToClient.P50) + " / " + fmtDuration(r.ToClient.P99)
			if r.ClientMissing > 0 {
				client += fmt.Sprintf(" (%d never)", r.ClientMissing)
			}
		}
		p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %d | %d | %s |", fmtCount(r.N), r.Run, r.System, r.Due.UTC().Format("15:04:05"),
			created, look, fmtDuration(r.Lateness.P50), fmtDuration(r.Lateness.P99), fmtDuration(r.Lateness.Max),
			fmtDuration(r.ToCommit.P50), fmtDuration(r.ToCommit.Max), client, r.Missing, r.Duplicates, errText)
	}
	p("")
}

func writeMissing(p func(string, ...any), results []Result) {
	var with []Result
	for _, r := range results {
		if r.Missing > 0 {
			with = append(with, r)
		}
	}
	if len(with) == 0 {
		return
	}
	p("## Missing publications")
	p("")
	p("Broadcasts whose publication had not reached Kafka when the run stopped waiting. Their percentiles above are over")
	p("the broadcasts that did arrive, so they understate that run's lateness. Some of the ids, to look up")
	p("(`BENCH_KEEP=1 make bench` leaves the services up; Crier's workflows are `broadcast:<id>`):")
	p("")
	for _, r := range with {
		ids := make([]string, len(r.MissingIDs))
		for i, id := range r.MissingIDs {
			ids[i] = "`" + id.String() + "`"
		}
		p("- N = %s, run %d, %s: %d missing; %s", fmtCount(r.N), r.Run, r.System, r.Missing, strings.Join(ids, ", "))
	}
	p("")
}

func fmtSpread(s Spread) string {
	if s.Runs == 0 {
		return "–"
	}
	if s.Runs == 1 {
		return fmtDuration(s.Median)
	}
	return fmt.Sprintf("%s (%s – %s)", fmtDuration(s.Median), fmtDuration(s.Min), fmtDuration(s.Max))
}

// fmtDuration shows three significant figures in ms or s.
func fmtDuration(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch a := math.Abs(ms); {
	case a < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case a < 100:
		return fmt.Sprintf("%.1f ms", ms)
	case a < 1000:
		return fmt.Sprintf("%.0f ms", ms)
	case a < 10000:
		return fmt.Sprintf("%.2f s", ms/1000)
	default:
		return fmt.Sprintf("%.1f s", ms/1000)
	}
}

func fmtRatio(x float64) string {
	switch {
	case math.IsNaN(x):
		return "n/a"
	case x <= 0:
		return fmt.Sprintf("%.3g", x)
	case x < 0.01:
		return fmt.Sprintf("%.3g (%.0f× less late)", x, 1/x)
	case x < 1:
		return fmt.Sprintf("%.3g (%.3g× less late)", x, 1/x)
	default:
		return fmt.Sprintf("%.3g (%.3g× later)", x, x)
	}
}

func fmtCount(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// writeGoals is the summary: every goal with the figure reached.
func writeGoals(p func(string, ...any), r Report) {
	var goals []Goal
	goals = append(goals, BurstGoals(r.Outcome)...)
	for _, s := range r.Scenarios {
		goals = append(goals, s.Section.Goals...)
	}
	if len(goals) == 0 {
		return
	}
	p("## Goals")
	p("")
	p("| Goal | Reached (median over runs, range in brackets) | |")
	p("|---|---|---|")
	for _, g := range goals {
		p("| %s | %s | %s |", g.What, g.Reached, map[bool]string{true: "met", false: "**not met**"}[g.Met])
	}
	for _, s := range r.Scenarios {
		if s.Err != nil {
			p("| %s | could not be measured: %v | **not met** |", s.Name, s.Err)
		}
	}
	p("")
}

func writeScenarios(p func(string, ...any), scenarios []ScenarioOutcome) {
	for _, s := range scenarios {
		if s.Err != nil {
			p("## %s", s.Name)
			p("")
			p("Could not be measured (after %s): %v", s.Took.Round(time.Second), s.Err)
			p("")
			continue
		}
		p("## %s", s.Section.Title)
		p("")
		if s.Section.Method != "" {
			p("%s", strings.TrimSpace(s.Section.Method))
			p("")
		}
		p("%s", strings.TrimSpace(s.Section.Results))
		p("")
	}
}

// burstGoal is the lateness goal (p99) at each burst size.
var burstGoal = map[int]time.Duration{1: 200 * time.Millisecond, 1000: time.Second, 10000: 5 * time.Second}

// BurstGoals are the burst's goals, for Crier, at the sizes that have one.
func BurstGoals(o Outcome) []Goal {
	var goals []Goal
	for _, f := range Aggregate(o.Results) {
		goal, ok := burstGoal[f.N]
		if !ok || (f.System != "Crier" && f.System != CrierOnServer) || f.Runs == 0 {
			continue
		}
		on := "dev server"
		if f.System == CrierOnServer {
			on = "Temporal server on PostgreSQL"
		}
		goals = append(goals, Goal{
			What:    fmt.Sprintf("burst N = %s: p99 lateness ≤ %s (%s)", fmtCount(f.N), fmtDuration(goal), on),
			Reached: "p99 " + fmtSpread(f.P99),
			Met:     f.P99.Median <= goal && f.Missing == 0,
		})
	}
	return goals
}
