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
	due := time.Now().Add(t.DueIn).Truncate(time.Second).Add(time.Second)
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
// reschedule, all at once.
func earlyChanges(ctx context.Context, r *run) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(creators)
	moved, cancelled := 0, 0
	for _, p := range r.plan {
		switch p.Fate {
		case fateCancelEarly:
			cancelled++
			g.Go(func() error { return r.admin.cancel(gctx, p) })
		case fateRescheduled:
			moved++
			g.Go(func() error { return r.admin.reschedule(gctx, p, r.due.Add(r.env.Timing.MoveBy)) })
		case fatePlain, fateExpiring, fateCancelInHold, fateMarker:
		}
	}
	err := g.Wait()
	r.event("cancelled %d and moved %d to D+%s%s", cancelled, moved, r.env.Timing.MoveBy, r.refusals(fateCancelEarly, fateRescheduled))
	return err
}

// holdCancels cancels the broadcasts to cancel inside the hold, at once,
// and returns without their answers: a cancel in the hold is answered once
// it applies, after publication, and the fault must not wait for that.
// settle waits for them (r.answers).
func holdCancels(ctx context.Context, r *run) error {
	var mine []*planned
	for _, p := range r.plan {
		if p.Fate == fateCancelInHold {
			mine = append(mine, p)
		}
	}
	sent := time.Now()
	r.event("cancelling %d inside the hold", len(mine))
	r.answers.Go(func() {
		var wg sync.WaitGroup
		for _, p := range mine {
			wg.Go(func() { _ = r.admin.cancel(ctx, p) }) // the answer is recorded in p
		}
		wg.Wait()
		r.event("the %d cancels inside the hold answered within %.1fs%s", len(mine), time.Since(sent).Seconds(),
			r.refusals(fateCancelInHold))
	})
	return nil
}

// refusals says how many changes of the given fates were not answered 200.
func (r *run) refusals(fates ...fate) string {
	n, example := 0, ""
	for _, p := range r.plan {
		if slices.Contains(fates, p.Fate) && p.Refused != "" {
			n++
			example = p.Refused
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d refused, e.g. %s)", n, example)
}
