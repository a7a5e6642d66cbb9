package chaos

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/crier/crier/bench"
)

// Report is what CHAOS.md is written from.
type Report struct {
	Outcome Outcome
	Machine bench.Machine
	// Command is the exact command that produced the report.
	Command string
	// Env is what the scenarios ran on (burst size, timing, replication).
	Env Env
	// Temporal says how the Temporal server keeps its state.
	Temporal string
}

// WriteMarkdown writes CHAOS.md.
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	o := r.Outcome
	p("# Crier under failure")
	p("")
	p("Written by `bench/cmd/crierchaos` on %s UTC; the run took %s. Regenerate with:", o.Started.UTC().Format("2006-01-02 15:04"),
		o.Stopped.Sub(o.Started).Round(time.Second))
	p("")
	p("```sh\n%s\n```", r.Command)
	p("")
	r.writeMethod(p)
	writeSummary(p, o.Results)
	writeGoals(p, o.Results)
	r.writeMachine(p)
	for _, res := range o.Results {
		writeScenario(p, res)
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

func (r Report) writeMethod(p func(string, ...any)) {
	t := r.Env.Timing
	p("`make chaos` starts its own PostgreSQL, a three-node Kafka cluster (KRaft; topics with replication %d and", r.Env.Replication)
	p("`min.insync.replicas` 2; the relay writes with acks=all) and Temporal (%s), all on loopback under", r.Temporal)
	p("`.chaos/`, with the project's scripts, and runs each scenario below on its own database, topic and task queue, with")
	p("its own crier processes: two API nodes (`crier api`), two workers (`crier worker`) and the relay (`crier relay`).")
	p("Seven SSE clients (six users: `ann` twice, `bob`, `cat`, `dan`, `eve`, `fay`; ALL, ROLE `ops`, ROLE `sales` and")
	p("SELECTED `eve,fay` broadcasts each reach some of them and miss others) stream from the two API nodes and, when a")
	p("stream ends, resume on their node or the other with the last id they received as `Last-Event-ID`, as the README")
	p("tells browsers to. Each scenario first sends an ALL broadcast at once and waits until every client has it, then")
	p("creates a burst of %d broadcasts through the admin API, all due in the same second D (%s or more ahead, enough to", r.Env.Burst,
		t.DueIn.Round(time.Second))
	p("create them all and change some before the due dispatchers read them, 10 s ahead).")
	p("Per 20: 2 are cancelled at D-%s (before the dispatchers read them), 1 at D-%s (inside the hold, while the", t.EarlyChange, t.HoldCancel)
	p("dispatchers wait for D: the cancel's guarded change wins, so it is never published, or retracted if it were),")
	p("2 are moved to D+%s at D-%s, 5 expire at D+%s, and 10 are left", t.MoveBy, t.EarlyChange, t.ExpireAfter)
	p("alone. One fault is injected; faults are signals to the processes and the scripts stopping services, never hooks in")
	p("the product. Then the harness waits until every check passes, or the scenario's time is up, and judges from three")
	p("records kept apart: Kafka's topic (a consumer of its own, every partition from the start), PostgreSQL's tables and")
	p("the clients' own logs:")
	p("")
	p("- **lost**: a broadcast due and not cancelled with no `BROADCAST_PUBLISHED`; **duplicates**: a second event id for")
	p("  the same broadcast and event type (copies with the same `event_id`, a resend, are counted apart and allowed);")
	p("- **unretracted**: a cancelled broadcast published with no `BROADCAST_CANCELLED` after it;")
	p("- **clients**: every client read every published broadcast that targets its user once after dropping duplicates,")
	p("  and its retraction (cancelled or expired) when there is one; **extra** counts what reached a client it does not")
	p("  target; a `reset` (a replay refused) counts as a failure too;")
	p("- **statuses**: each broadcast's final status is the plan's (CANCELLED, EXPIRED, else SENT) and agrees with the")
	p("  events (`published_at` set exactly when Kafka holds its publication; an expiry or cancellation event exactly when")
	p("  the status says so); **outbox left**: rows neither published nor failed at the end.")
	p("")
	p("**Lateness** is each publication's Kafka append time (the topics use `message.timestamp.type=LogAppendTime`, the")
	p("broker's clock) minus its `scheduled_at`, over the burst (nearest-rank p50 and p99, and the maximum); expiry")
	p("lateness the same for the expiries; client lateness each client's first read minus `scheduled_at`. Times in the")
	p("scenarios' logs are from D.")
	p("")
}

func writeSummary(p func(string, ...any), results []Result) {
	p("## Summary")
	p("")
	p("| Scenario | Due (not cancelled) | Published | Lost | Duplicates | Copies (same event_id) | Unretracted | Clients missed / extra / retractions missed | Statuses wrong | Outbox left | Lateness p50 / p99 / max | Verdict |")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, res := range results {
		v := res.Verdict
		if res.Err != nil {
			p("| %s | | | | | | | | | | | not carried out: %s |", res.Scenario.Name, oneLine(res.Err.Error()))
			continue
		}
		p("| %s | %d | %d | %d | %d | %d | %d | %d / %d / %d | %d | %d | %s / %s / %s | %s |", res.Scenario.Name,
			v.MustPublish, v.Published, v.Lost, v.Duplicates, v.Copies, v.Unretracted, v.Missed, v.Extra, v.RetractMissed,
			v.StatusWrong, v.OutboxLeft, fmtLate(v.Lateness.P50), fmtLate(v.Lateness.P99), fmtLate(v.Lateness.Max), verdictWord(res))
	}
	p("")
}

func verdictWord(res Result) string {
	switch {
	case res.Err != nil:
		return "not carried out"
	case res.Verdict.OK():
		return fmt.Sprintf("**pass** (settled at D+%.0fs)", res.SettledAfter.Seconds())
	default:
		return "**FAIL**"
	}
}

// writeGoals lists the lateness goals: measured, never asserted.
func writeGoals(p func(string, ...any), results []Result) {
	p("## Lateness goals")
	p("")
	p("| Goal | Reached (p99) | Met |")
	p("|---|---|---|")
	for _, res := range results {
		sc := res.Scenario
		if sc.Goal == "" || res.Err != nil {
			continue
		}
		met := "no"
		if res.Verdict.Lateness.Count > 0 && res.Verdict.Lateness.P99 <= sc.GoalP99 {
			met = "yes"
		}
		p("| %s (`%s`) | %s | %s |", sc.Goal, sc.Name, fmtLate(res.Verdict.Lateness.P99), met)
	}
	p("")
}

func (r Report) writeMachine(p func(string, ...any)) {
	m := r.Machine
	p("## Machine and versions")
	p("")
	p("| | |")
	p("|---|---|")
	p("| CPU | %d × %s |", m.CPUs, m.CPUModel)
	p("| Memory | %.1f GiB |", m.MemoryGiB)
	p("| Kernel | %s |", m.Kernel)
	p("| Go | %s |", m.Go)
	p("| Temporal | %s (%s) |", m.Temporal, r.Temporal)
	p("| Kafka | %s |", m.Kafka)
	p("| PostgreSQL | %s |", m.PostgreSQL)
	p("| Crier | commit %s |", m.Crier)
	p("")
}

func writeScenario(p func(string, ...any), res Result) {
	sc, v := res.Scenario, res.Verdict
	p("## %s", sc.Name)
	p("")
	p("%s.", sc.Fault)
	p("")
	if res.Err != nil {
		p("Not carried out: %s", res.Err)
		p("")
	}
	if len(res.Events) > 0 {
		p("```text")
		for _, e := range res.Events {
			p("%s", e)
		}
		p("```")
		p("")
	}
	if res.Err == nil {
		p("- %d broadcasts (the marker included), %d due and not cancelled; %d published, %d lost, %d duplicates, %d copies with the same event_id, %d unretracted.",
			v.Planned, v.MustPublish, v.Published, v.Lost, v.Duplicates, v.Copies, v.Unretracted)
		p("- Clients: %d missed, %d extra, %d retractions missed, %d copies dropped, %d resets, %d reconnections.",
			v.Missed, v.Extra, v.RetractMissed, v.ClientCopies, v.Resets, v.Reconnects)
		p("- %d statuses wrong, %d outbox rows left.", v.StatusWrong, v.OutboxLeft)
		p("- Lateness: publication %s; expiry %s; at the clients %s.", fmtSummary(v.Lateness), fmtSummary(v.ExpiryLateness),
			fmtSummary(v.ClientLateness))
		if u := v.Outage; u != nil {
			p("- Creations during the Temporal outage: %d tried, answered %v, %d stored.", u.Tried, u.Answers, u.Stored)
		}
	}
	for _, n := range v.Notes {
		p("- %s", n)
	}
	if res.Soak != nil {
		writeSoak(p, res.Soak)
	}
	p("")
}

func writeSoak(p func(string, ...any), s *SoakResult) {
	p("")
	p("Settings: `%s`.", strings.Join(s.Settings, "`, `"))
	p("")
	p("| Since the start | %s |", strings.Join(soakTables, " | "))
	p("|---%s|", strings.Repeat("|---", len(soakTables)))
	for _, sm := range s.Samples {
		cells := make([]string, len(sm.Rows))
		for i, n := range sm.Rows {
			cells[i] = fmt.Sprint(n)
		}
		p("| %.0f s | %s |", sm.At.Seconds(), strings.Join(cells, " | "))
	}
	p("")
	for _, t := range s.Trends {
		word := "keeps growing"
		if t.LevelsOff {
			word = "levels off"
		}
		p("- `%s` %s: at most %d rows in the middle third of the samples, %d in the last.", t.Table, word, t.Middle, t.Last)
	}
}

func fmtSummary(s bench.Summary) string {
	if s.Count == 0 {
		return "none"
	}
	return fmt.Sprintf("p50 %s, p99 %s, max %s (%d)", fmtLate(s.P50), fmtLate(s.P99), fmtLate(s.Max), s.Count)
}

func fmtLate(d time.Duration) string { return bench.FormatDuration(d) }

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
