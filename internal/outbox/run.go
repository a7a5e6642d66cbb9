package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/crier/crier/internal/retry"
	"github.com/crier/crier/internal/store"
)

// Run relays until ctx ends: it relays batches back to back while rows are
// pending, then sleeps until a notification or PollInterval. Errors (Kafka or
// PostgreSQL down) are logged and retried with backoff; rows stay pending
// until they are written. Published rows are deleted past their horizon by
// the workers' maintenance run (internal/retention), not here.
func (r *Relay) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	go r.listen(ctx, wake)
	r.log.Info("Outbox relay started", "topic", r.cfg.Topic, "batch_size", r.cfg.BatchSize)

	failures := 0
	for {
		n, err := r.RelayOnce(ctx)
		switch {
		case ctx.Err() != nil:
			r.log.Info("Outbox relay stopped")
			return nil //nolint:nilerr // the batch failed because ctx ended: a shutdown, not a failure
		case err != nil:
			failures++
			r.log.Error("Relaying outbox batch failed; will retry", "attempt", failures, "error", err)
			if !retry.Wait(ctx, failures) {
				return nil
			}
			continue
		}
		failures = 0
		if n == r.cfg.BatchSize {
			continue // more are likely pending
		}
		select {
		case <-ctx.Done():
			r.log.Info("Outbox relay stopped")
			return nil
		case <-wake:
		case <-time.After(r.cfg.PollInterval):
		}
	}
}

// listen turns PostgreSQL notifications on the outbox channel into wake-ups,
// reconnecting when the connection drops.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	for attempt := 1; ctx.Err() == nil; attempt++ {
		err := r.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("Outbox notification listener lost its connection; polling until it is back", "error", err)
		if !retry.Wait(ctx, attempt) {
			return
		}
	}
}

func (r *Relay) listenOnce(ctx context.Context, wake chan<- struct{}) error {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+store.OutboxChannel); err != nil {
		return err
	}
	defer func() {
		// The connection goes back to the pool: stop listening on it.
		unlistenCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if _, err := conn.Exec(unlistenCtx, "UNLISTEN *"); err != nil {
			conn.Conn().Close(unlistenCtx) //nolint:errcheck // the pool discards a closed connection
		}
	}()
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		select {
		case wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}
