package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
)

// Config configures a benchmark run. Zero fields take the documented defaults.
type Config struct {
	// Sizes are the burst sizes N. Default 1 and 1,000.
	Sizes []int
	// Runs is how many times each scenario is repeated. Default 2.
	Runs int
	// LargeRuns replaces Runs for N ≥ 10,000, whose runs take minutes.
	// Default Runs.
	LargeRuns int
	// Budget bounds the whole run; scenarios that would not fit are skipped
	// and listed. Default 20 minutes.
	Budget time.Duration
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// Progress receives a line per step. Default: discarded.
	Progress io.Writer
}

// Result is one run of one scenario on one system.
type Result struct {
	System string
	N, Run int
	Due    time.Time
	// Created is how long creating the N broadcasts took; CreatedLate is
	// set when creation was still going on at the due time.
	Created     time.Duration
	CreatedLate bool
	// Phase is how long after the due time the system first looked (the
	// poller's), zero for the others.
	Phase time.Duration
	// Lateness summarises append time minus scheduled_at of each broadcast.
	Lateness Summary
	// AfterPhase is Lateness less Phase: the poller's own processing.
	AfterPhase Summary
	// ToCommit summarises occurred_at minus scheduled_at: the lateness
	// before the event reached the relay (or, for the poller, the send).
	ToCommit Summary
	// ToClient summarises when a connected SSE client read each broadcast,
	// minus scheduled_at (Crier only); ClientMissing never reached it.
	ToClient                     Summary
	ClientMissing                int
	Missing, Duplicates, Foreign int
	// MissingIDs are some of the missing broadcasts, to look up.
	MissingIDs []uuid.UUID
	// Err is why the run could not complete, if it could not.
	Err error
}

// Outcome is everything a benchmark run produced.
type Outcome struct {
	Config           Config
	Systems          []string
	Results          []Result
	Skipped          []string
	Started, Stopped time.Time
}

// firstLook is implemented by a system whose first look for due broadcasts
// may come up to FirstLookWithin after the due time (the poller).
type firstLook interface{ FirstLookWithin() time.Duration }

// FirstLookWithin implements firstLook.
func (p *Poller) FirstLookWithin() time.Duration { return p.cfg.Interval }

// Runner runs the burst scenario on each system in turn.
type Runner struct {
	cfg      Config
	systems  []System
	deadline time.Time
	started  time.Time
	// rate is the last creation rate seen per system, in broadcasts/s.
	rate map[string]float64
}

// NewRunner returns a runner of cfg over systems (Crier first).
func NewRunner(cfg Config, systems ...System) *Runner {
	if len(cfg.Sizes) == 0 {
		cfg.Sizes = []int{1, 1000}
	}
	if cfg.Runs <= 0 {
		cfg.Runs = 2
	}
	if cfg.LargeRuns <= 0 {
		cfg.LargeRuns = cfg.Runs
	}
	if cfg.Budget <= 0 {
		cfg.Budget = 20 * time.Minute
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	return &Runner{cfg: cfg, systems: systems, rate: map[string]float64{}}
}

// Run runs every scenario that fits in the budget: for each size, for each
// run, each system (rotating which goes first, so none always runs on the
// freshest machine).
func (r *Runner) Run(ctx context.Context) Outcome {
	r.started = time.Now()
	r.deadline = r.started.Add(r.cfg.Budget)
	out := Outcome{Config: r.cfg, Started: r.started}
	for _, s := range r.systems {
		out.Systems = append(out.Systems, s.Name())
	}
	total := 0
	for _, n := range r.cfg.Sizes {
		for _, sys := range r.systems {
			if runsAt(sys, n) {
				total += r.cfg.runsFor(n)
			}
		}
	}
	step := 0
	for _, n := range r.cfg.Sizes {
		runs := r.cfg.runsFor(n)
		for run := 1; run <= runs; run++ {
			for i := range r.systems {
				sys := r.systems[(i+run-1)%len(r.systems)]
				if !runsAt(sys, n) {
					continue
				}
				step++
				label := fmt.Sprintf("[%d/%d] N=%d run %d/%d %s", step, total, n, run, runs, sys.Name())
				if ctx.Err() != nil {
					out.Skipped = append(out.Skipped, label+": interrupted")
					continue
				}
				if need := r.estimate(sys, n); time.Until(r.deadline) < need {
					out.Skipped = append(out.Skipped, fmt.Sprintf("%s: needs about %s, %s of the budget left",
						label, need.Round(time.Second), max(time.Until(r.deadline), 0).Round(time.Second)))
					r.say("%s: skipped, the budget is spent", label)
					continue
				}
				res := r.scenario(ctx, sys, n, run, label)
				out.Results = append(out.Results, res)
			}
		}
	}
	out.Stopped = time.Now()
	return out
}

// sizeLimited is implemented by a system that runs bursts of at most
// MaxBurst broadcasts (Crier on the Temporal server, to keep make bench
// within its budget).
type sizeLimited interface{ MaxBurst() int }

func runsAt(sys System, n int) bool {
	l, ok := sys.(sizeLimited)
	return !ok || l.MaxBurst() <= 0 || n <= l.MaxBurst()
}

func (c Config) runsFor(n int) int {
	if n >= 10000 {
		return c.LargeRuns
	}
	return c.Runs
}

// lead is how far ahead the broadcasts are due: enough to create them all
// first, judged by the system's last creation rate (100/s before any).
func (r *Runner) lead(sys System, n int) time.Duration {
	rate := r.rate[sys.Name()]
	if rate <= 0 {
		rate = 100
	}
	d := max(5*time.Second, 3*time.Second+time.Duration(1.5*float64(n)/rate*float64(time.Second)))
	if a, ok := sys.(knownAhead); ok {
		d += a.KnownAhead(n)
	}
	return d
}

// knownAhead is implemented by a system that must hold a broadcast some time
// before it falls due to publish it at its instant (Crier's due dispatchers
// read ahead): the broadcasts are due after that, as when they are created
// ahead of time, hours before.
type knownAhead interface{ KnownAhead(n int) time.Duration }

// wait is how long after the due time (and the first look) a run waits for
// its publications before reporting the rest missing.
func wait(n int) time.Duration { return 30*time.Second + time.Duration(n)*5*time.Millisecond }

func (r *Runner) estimate(sys System, n int) time.Duration {
	d := r.lead(sys, n) + 3*time.Second + time.Duration(n)*2*time.Millisecond
	if fl, ok := sys.(firstLook); ok {
		d += fl.FirstLookWithin()
	}
	return d
}

func (r *Runner) scenario(ctx context.Context, sys System, n, run int, label string) Result {
	due := time.Now().Add(r.lead(sys, n)).Truncate(time.Second).Add(time.Second)
	res := Result{System: sys.Name(), N: n, Run: run, Due: due}
	offsets, err := EndOffsets(ctx, r.cfg.Brokers, sys.Topic())
	if err != nil {
		res.Err = err
		r.say("%s: %v", label, err)
		return res
	}
	bs := NewBroadcasts(n, due, fmt.Sprintf("N=%d run %d", n, run))
	dueOf := make(map[uuid.UUID]time.Time, n)
	for _, b := range bs {
		dueOf[b.ID] = *b.ScheduledAt
	}
	tally := NewTally(dueOf)

	r.say("%s: creating %d broadcasts due at %s (in %s)", label, n, due.Format("15:04:05"), time.Until(due).Round(100*time.Millisecond))
	began := time.Now()
	if err := sys.Create(ctx, bs); err != nil {
		res.Err = fmt.Errorf("create: %w", err)
		r.say("%s: %v", label, res.Err)
		return res
	}
	res.Created = time.Since(began)
	res.CreatedLate = time.Now().After(due)
	r.rate[sys.Name()] = float64(n) / res.Created.Seconds()
	r.say("%s: created in %s (%.0f/s)%s", label, res.Created.Round(time.Millisecond), r.rate[sys.Name()],
		map[bool]string{true: "; WARNING: creation overran the due time", false: ""}[res.CreatedLate])

	armCtx, disarm := context.WithCancel(ctx)
	defer disarm()
	res.Phase = sys.Arm(armCtx, due)
	if res.Phase > 0 {
		r.say("%s: first poll %s after the due time", label, res.Phase.Round(time.Millisecond))
	}
	until := due.Add(res.Phase + wait(n))
	if until.After(r.deadline) {
		until = r.deadline
	}
	readCtx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	err = ReadUntil(readCtx, r.cfg.Brokers, sys.Topic(), offsets, tally, 5*time.Second, func() {
		r.say("%s: waiting, %s", label, tally)
	})
	if err != nil {
		res.Err = err
	}
	res.Lateness = Summarize(tally.Lateness())
	if res.Phase > 0 {
		after := tally.Lateness()
		for i := range after {
			after[i] -= res.Phase
		}
		res.AfterPhase = Summarize(after)
	}
	res.ToCommit = Summarize(tally.ToCommit())
	res.Missing, res.Duplicates, res.Foreign = tally.Missing(), tally.Duplicates, tally.Foreign
	if res.Missing > 0 {
		res.MissingIDs = tally.MissingIDs(5)
		r.say("%s: %d never published within %s of the due time, among them %v", label, res.Missing,
			until.Sub(due).Round(time.Second), res.MissingIDs)
	}
	r.say("%s: %s; lateness p50 %s, p99 %s, max %s", label, tally,
		fmtDuration(res.Lateness.P50), fmtDuration(res.Lateness.P99), fmtDuration(res.Lateness.Max))
	if cr, ok := sys.(clientReader); ok && cr.ReadAt() != nil && res.Lateness.Count > 0 {
		res.ToClient, res.ClientMissing = toClient(ctx, cr, dueOf)
		r.say("%s: the SSE client read them %s p50, %s p99 after the due time; %d never reached it", label,
			fmtDuration(res.ToClient.P50), fmtDuration(res.ToClient.P99), res.ClientMissing)
	}
	return res
}

// clientReader is implemented by a system that may have an SSE client
// connected (Crier): when the client first read each broadcast, nil when it
// has none.
type clientReader interface {
	ReadAt() map[uuid.UUID]time.Time
}

// toClient is the lateness at the SSE client of the broadcasts in dueOf,
// waiting up to 10 s for the client to read the last of them.
func toClient(ctx context.Context, cr clientReader, dueOf map[uuid.UUID]time.Time) (Summary, int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		read := cr.ReadAt()
		var late []time.Duration
		for id, due := range dueOf {
			if at, ok := read[id]; ok {
				late = append(late, at.Sub(due))
			}
		}
		if len(late) == len(dueOf) || time.Now().After(deadline) || ctx.Err() != nil {
			return Summarize(late), len(dueOf) - len(late)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *Runner) say(format string, args ...any) {
	elapsed := time.Since(r.started).Round(time.Second)
	fmt.Fprintf(r.cfg.Progress, "[%6s] %s\n", elapsed, fmt.Sprintf(format, args...))
}
