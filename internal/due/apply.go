package due

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/store"
)

// statementTimeout bounds one batch statement. A stop does not cut it short:
// a burst's change under way commits (or fails) whole.
const statementTimeout = 10 * time.Second

// heldRetry is the first wait before looking again at a broadcast that was
// due but held by another transaction (a workflow's own publish, another
// dispatcher, a cancel under way): that one usually finishes it within
// milliseconds, and the next look finds it done.
const heldRetry = 20 * time.Millisecond

// applyDue applies every entry due by now: by operation, in batches of
// BatchSize, Parallel at once. What is not done yet goes back in the queue:
// a broadcast another transaction held, or one whose time moved.
func (d *Dispatcher) applyDue(ctx context.Context) {
	due := d.q.popUntil(d.dbNow())
	if len(due) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statementTimeout)
	defer cancel()
	var (
		mu      sync.Mutex
		again   []entry
		applied = map[broadcast.Operation]int{}
		latest  time.Duration
	)
	g := errgroup.Group{}
	g.SetLimit(d.cfg.Parallel)
	for _, batch := range d.batches(due) {
		g.Go(func() error {
			n, last, later := d.applyBatch(ctx, batch)
			mu.Lock()
			defer mu.Unlock()
			again = append(again, later...)
			applied[batch[0].op] += n
			latest = max(latest, last)
			return nil
		})
	}
	_ = g.Wait() // applyBatch reports through done and later, never an error
	for _, e := range again {
		d.q.push(e)
	}
	if n := applied[broadcast.OpPublish] + applied[broadcast.OpExpire]; n > 0 {
		d.log.Info("Applied due transitions", "published", applied[broadcast.OpPublish],
			"expired", applied[broadcast.OpExpire], "latest_after_due", latest, "retrying", len(again))
	}
}

// batches splits due into batches of one operation each, at most BatchSize.
func (d *Dispatcher) batches(due []entry) [][]entry {
	byOp := map[broadcast.Operation][]entry{}
	for _, e := range due {
		byOp[e.op] = append(byOp[e.op], e)
	}
	var out [][]entry
	for _, op := range store.DueOps {
		for chunk := range slices.Chunk(byOp[op], d.cfg.BatchSize) {
			out = append(out, chunk)
		}
	}
	return out
}

// applyBatch applies one batch and returns how many it changed, how long
// after its instant the latest of them committed, and the entries to try
// again.
func (d *Dispatcher) applyBatch(ctx context.Context, batch []entry) (n int, latest time.Duration, later []entry) {
	op := batch[0].op
	ids := make([]uuid.UUID, len(batch))
	byID := make(map[uuid.UUID]entry, len(batch))
	for i, e := range batch {
		ids[i], byID[e.id] = e.id, e
	}
	changed, err := d.store.ApplyDue(ctx, op, ids)
	if err != nil {
		d.log.Warn("Could not apply due transitions; retrying", "op", op, "broadcasts", len(ids), "error", err)
		return 0, 0, d.retryAll(batch)
	}
	for _, b := range changed {
		e := byID[b.ID]
		delete(byID, b.ID)
		after := changedAt(op, b).Sub(e.at)
		metrics.DueApplied.WithLabelValues(string(op)).Inc()
		metrics.DueLateness.WithLabelValues(string(op)).Observe(max(after, 0).Seconds())
		latest = max(latest, after)
	}
	if len(byID) == 0 {
		return len(changed), latest, nil
	}
	return len(changed), latest, d.stillPending(ctx, op, byID)
}

// stillPending looks up the entries a batch did not change and returns
// those still to do: rescheduled ones at their new instant, ones another
// transaction held a little later. The rest were cancelled or done by
// someone else.
func (d *Dispatcher) stillPending(ctx context.Context, op broadcast.Operation, left map[uuid.UUID]entry) []entry {
	ids := make([]uuid.UUID, 0, len(left))
	for id := range left {
		ids = append(ids, id)
	}
	pending, clock, err := d.store.Pending(ctx, op, ids)
	if err != nil {
		d.log.Warn("Could not check due transitions left undone; retrying", "op", op, "broadcasts", len(ids), "error", err)
		retries := make([]entry, 0, len(left))
		for _, e := range left {
			retries = append(retries, e)
		}
		return d.retryAll(retries)
	}
	var later []entry
	for _, p := range pending {
		e := left[p.ID]
		if p.At.After(clock) {
			e.at, e.tries = p.At, 0 // moved later; a read would find it too
		} else {
			e.tries++
			e.at = clock.Add(min(heldRetry<<e.tries, time.Second))
		}
		later = append(later, e)
	}
	return later
}

// retryAll puts a failed batch back a little later, backing off with each
// failure.
func (d *Dispatcher) retryAll(batch []entry) []entry {
	out := make([]entry, len(batch))
	for i, e := range batch {
		e.tries++
		e.at = d.dbNow().Add(min(heldRetry<<e.tries, d.cfg.Every))
		out[i] = e
	}
	return out
}

// changedAt is when op's change of b committed, as PostgreSQL recorded it.
func changedAt(op broadcast.Operation, b broadcast.Broadcast) time.Time {
	switch {
	case op == broadcast.OpPublish && b.PublishedAt != nil:
		return *b.PublishedAt
	case op == broadcast.OpExpire && b.ExpiredAt != nil:
		return *b.ExpiredAt
	}
	return b.UpdatedAt
}
