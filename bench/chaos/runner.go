package chaos

import (
	"context"
	"fmt"
	"time"
)

// Outcome is a whole run of make chaos.
type Outcome struct {
	Results          []Result
	Skipped          []string
	Started, Stopped time.Time
}

// Run carries out each scenario in turn while the budget (until deadline)
// allows it, keeping the soak's time for the soak; what does not fit, or
// needs Services that env has not, is skipped and listed.
func Run(ctx context.Context, env Env, scenarios []Scenario, deadline time.Time) Outcome {
	out := Outcome{Started: time.Now()}
	env, err := env.WithDefaults() // one pace for every scenario
	if err != nil {
		for _, sc := range scenarios {
			out.Skipped = append(out.Skipped, sc.Name+": "+err.Error())
		}
		out.Stopped = time.Now()
		return out
	}
	var reserve time.Duration
	for _, sc := range scenarios {
		if sc.soak > 0 {
			reserve += sc.Estimate
		}
	}
	say := env.Say
	for i, sc := range scenarios {
		label := fmt.Sprintf("[%d/%d] %s", i+1, len(scenarios), sc.Name)
		if sc.soak > 0 {
			reserve -= sc.Estimate
		}
		need := sc.Estimate + reserve
		switch left := time.Until(deadline); {
		case ctx.Err() != nil:
			out.Skipped = append(out.Skipped, sc.Name+": interrupted")
			continue
		case sc.NeedsServices && env.Services == nil:
			out.Skipped = append(out.Skipped, sc.Name+": needs to stop and start services, which this run may not")
			continue
		case left < need:
			out.Skipped = append(out.Skipped, fmt.Sprintf("%s: needs about %s (with %s kept for the soak), %s of the budget left",
				sc.Name, sc.Estimate.Round(time.Second), reserve.Round(time.Second), max(left, 0).Round(time.Second)))
			say("%s: skipped, the budget is spent", label)
			continue
		}
		say("%s: %s", label, sc.Fault)
		sctx, cancel := context.WithDeadline(ctx, deadline)
		res := RunScenario(sctx, env, sc)
		cancel()
		out.Results = append(out.Results, res)
		say("%s: %s in %s", label, res.summary(), res.Took.Round(time.Second))
	}
	out.Stopped = time.Now()
	return out
}

// summary is a one-line account of a result.
func (res Result) summary() string {
	if res.Err != nil {
		return "could not be carried out: " + res.Err.Error()
	}
	v := res.Verdict
	verdict := "every check passes"
	if !v.OK() {
		verdict = "CHECKS FAIL: " + v.progress()
	}
	return fmt.Sprintf("%s; lateness p50 %s, p99 %s, max %s", verdict, fmtLate(v.Lateness.P50), fmtLate(v.Lateness.P99), fmtLate(v.Lateness.Max))
}
