package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
)

// Scenario is a benchmark other than the burst (creation rate, outbox relay,
// SSE fan-out, inbox reads). Each one sets up what it needs on the shared
// services (its own database, topic and task queue), runs its repetitions and
// returns its section of BENCHMARKS.md. The burst runs first; scenarios then
// run in order, each only if its Estimate still fits in the budget.
type Scenario interface {
	// Name is the scenario's short name, as `-scenarios` selects it.
	Name() string
	// Estimate is how long Run takes with env.Runs repetitions, at most.
	Estimate(runs int) time.Duration
	// Run measures and returns the report's section. An error means the
	// scenario could not be measured; it is reported as such.
	Run(ctx context.Context, env Env) (Section, error)
}

// Env is what a scenario runs on.
type Env struct {
	// DatabaseURL names any database on the shared PostgreSQL server: a
	// scenario creates its own with CreateDatabase(ctx, CrierBinary, DatabaseURL, ...).
	DatabaseURL string
	// Brokers are the Kafka bootstrap addresses; create topics with
	// CreateTopic (LogAppendTime).
	Brokers []string
	// TemporalAddress and Temporal are the shared Temporal server and a
	// client of its default namespace.
	TemporalAddress string
	Temporal        client.Client
	// CrierBinary is the crier executable (run it with StartCrier, or with
	// exec for a single role).
	CrierBinary string
	// StateDir is a scratch folder (never in git) for logs.
	StateDir string
	// ID is unique to this benchmark run: use it in database, topic and
	// task-queue names (bench_<scenario>_<ID>).
	ID string
	// Runs is how many times to repeat each measurement.
	Runs int
	// Logger is for the products' own logs (warnings only).
	Logger *slog.Logger
	// Say prints a progress line; use it at least every 10 s of a long step.
	Say func(format string, args ...any)
}

// Section is a scenario's part of BENCHMARKS.md.
type Section struct {
	// Title is the section's heading (without "##").
	Title string
	// Method says what is measured and how, in Markdown.
	Method string
	// Results are the figures, in Markdown (tables).
	Results string
	// Goals are the goals this scenario checks, for the summary.
	Goals []Goal
}

// Goal is one target and the figure reached.
type Goal struct {
	// What is the goal as the issue states it, e.g. "relay ≥ 5,000 events/s".
	What string
	// Reached is the figure, e.g. "7,410 events/s (6,980 – 7,702)".
	Reached string
	Met     bool
}

// RateSpread is SpreadOf for figures that are not durations (rates, sizes):
// the median over runs and the extremes.
func RateSpread(xs []float64) (median, lo, hi float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return m, s[0], s[len(s)-1]
}

// ScenarioOutcome is one scenario's section, or why there is none.
type ScenarioOutcome struct {
	Name    string
	Section Section
	Err     error
	Took    time.Duration
}

// RunScenarios runs each scenario that fits before deadline, in order,
// each once the machine is quiet (Settle).
func RunScenarios(ctx context.Context, env Env, deadline time.Time, scenarios []Scenario, progress io.Writer) (done []ScenarioOutcome, skipped []string) {
	for _, s := range scenarios {
		if ctx.Err() != nil {
			skipped = append(skipped, s.Name()+": interrupted")
			continue
		}
		need := s.Estimate(env.Runs)
		if left := time.Until(deadline); left < need {
			skipped = append(skipped, fmt.Sprintf("scenario %s: needs about %s, %s of the budget left", s.Name(),
				need.Round(time.Second), max(left, 0).Round(time.Second)))
			continue
		}
		if busy := Settle(ctx, 30*time.Second); busy >= quiet {
			fmt.Fprintf(progress, "==> bench: the machine is still %.0f %% busy after 30 s; starting anyway\n", 100*busy)
		}
		fmt.Fprintf(progress, "==> bench: scenario %s (about %s at most)\n", s.Name(), need.Round(time.Second))
		began := time.Now()
		sec, err := s.Run(ctx, env)
		out := ScenarioOutcome{Name: s.Name(), Section: sec, Err: err, Took: time.Since(began)}
		if err != nil {
			fmt.Fprintf(progress, "==> bench: scenario %s failed after %s: %v\n", s.Name(), out.Took.Round(time.Second), err)
		} else {
			fmt.Fprintf(progress, "==> bench: scenario %s done in %s\n", s.Name(), out.Took.Round(time.Second))
		}
		done = append(done, out)
	}
	return done, skipped
}
