package chaos

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// creators is how many creations the harness sends at once.
const creators = 8

// burst creates the scenario's broadcasts, all due in the same second.
func (r *run) burst(ctx context.Context) error {
	t := r.env.Timing
	due := time.Now().Add(r.env.pace.dueIn(t)).Truncate(time.Second).Add(time.Second)
	items := newBurst(r.sc.Name, r.env.Burst, due, due.Add(t.ExpireAfter))
	began := time.Now()
	answers := make([]int, len(items))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(creators)
	for i, p := range items {
		g.Go(func() error {
			status, err := r.admin.create(gctx, p)
			answers[i] = status
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("create the burst: %w", err)
	}
	for i, p := range items {
		if answers[i] != http.StatusCreated {
			return fmt.Errorf("create %q: answered %d", p.Title, answers[i])
		}
	}
	r.env.pace.created(time.Since(began))
	r.due, r.expires = due, due.Add(t.ExpireAfter)
	r.plan = append(r.plan, items...)
	r.event("created %d broadcasts in %.1fs, due at %s", len(items), time.Since(began).Seconds(), due.Format("15:04:05"))
	if left := time.Until(due.Add(-t.EarlyChange)); left < 0 {
		r.event("WARNING: creation overran the time of the early changes by %.1fs", -left.Seconds())
	}
	return nil
}

// step is one thing the timeline does at its time.
type step struct {
	at   time.Time
	what string
	do   func(ctx context.Context, r *run) error
}

// timeline cancels and reschedules ahead of the due time, cancels inside
// the hold, and injects the fault, each at its time.
func (r *run) timeline(ctx context.Context) {
	t := r.env.Timing
	steps := []step{
		{r.due.Add(-t.EarlyChange), "early cancels and reschedules", earlyChanges},
		{r.due.Add(-t.HoldCancel), "cancels inside the hold", holdCancels},
	}
	if r.sc.inject != nil {
		steps = append(steps, step{r.sc.at(r), "fault", r.sc.inject})
	}
	slices.SortStableFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })
	for _, s := range steps {
		if err := pause(ctx, time.Until(s.at)); err != nil {
			return
		}
		if late := time.Since(s.at); late > 200*time.Millisecond {
			r.event("%s %.1fs later than planned (the step before took that long)", s.what, late.Seconds())
		}
		if err := s.do(ctx, r); err != nil {
			r.event("%s failed: %v", s.what, err)
		}
	}
}

// earlyChanges cancels the broadcasts to cancel early and moves the ones to
// reschedule, before their workflows wake.
func earlyChanges(ctx context.Context, r *run) error {
	moveTo := r.due.Add(r.env.Timing.MoveBy)
	r.change(ctx, "early cancels", r.fated(fateCancelEarly), r.admin.cancel)
	r.change(ctx, "moves to D+"+r.env.Timing.MoveBy.String(), r.fated(fateRescheduled),
		func(ctx context.Context, p *planned) error { return r.admin.reschedule(ctx, p, moveTo) })
	return nil
}

// holdCancels cancels the broadcasts to cancel inside the hold. Each is
// answered once it applies, after publication.
func holdCancels(ctx context.Context, r *run) error {
	r.change(ctx, "cancels inside the hold", r.fated(fateCancelInHold), r.admin.cancel)
	return nil
}

// fated are the broadcasts of the plan with fate f.
func (r *run) fated(f fate) []*planned {
	var out []*planned
	for _, p := range r.plan {
		if p.Fate == f {
			out = append(out, p)
		}
	}
	return out
}

// change sends do for each of ps at once and returns without waiting for
// the answers, which it records when they come: a change is a Temporal
// update, answered once the workflow has applied it (seconds later, for a
// workflow whose task a dead worker held), and
// the steps after it must keep their times. settle waits for every answer
// (r.answers) before it judges.
func (r *run) change(ctx context.Context, what string, ps []*planned, do func(context.Context, *planned) error) {
	sent := time.Now()
	r.event("%s: %d sent", what, len(ps))
	r.answers.Go(func() {
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Go(func() { _ = do(ctx, p) }) // the answer is recorded in p
		}
		wg.Wait()
		r.event("%s: all %d answered within %.1fs%s", what, len(ps), time.Since(sent).Seconds(), refusals(ps))
	})
}

// refusals says how many of ps were not answered 200, and how one was.
func refusals(ps []*planned) string {
	n, example := 0, ""
	for _, p := range ps {
		if p.Refused != "" {
			n++
			example = p.Refused
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d not answered 200, e.g. %s)", n, example)
}
