package main

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/stream"
)

// deadLetters is what a process's consumers dead-letter through: one writer
// on the dead-letter topic, and each consumer's policy; store is the
// admins' side, on API processes.
type deadLetters struct {
	writer   *deadletter.Writer
	audience *deadletter.Policy
	tail     *deadletter.Policy
	store    *deadletter.Store
}

// startDeadLetters builds the dead letters of a process that consumes the
// topic (api, worker); the writer and store are closed with the process.
func startDeadLetters(p parts, s shared, cfg config.Config, stops *cleanups) (deadLetters, error) {
	var d deadLetters
	if !p.api && !p.worker {
		return d, nil
	}
	var err error
	d.writer, err = deadletter.NewWriter(s.pool, deadletter.WriterConfig{
		Brokers: s.kafka.brokers, Transport: s.kafka.Transport, Topic: cfg.KafkaDeadLetterTopic,
		Partitions: cfg.KafkaPartitions, ReplicationFactor: cfg.KafkaReplicationFactor, Logger: s.logger,
	})
	if err != nil {
		return d, err
	}
	stops.push(func() { _ = d.writer.Close() })
	policy := func(consumer string) (*deadletter.Policy, error) {
		return deadletter.NewPolicy(d.writer, deadletter.PolicyConfig{Consumer: consumer, Attempts: cfg.DeadLetterAttempts, Logger: s.logger})
	}
	if d.audience, err = policy(audience.Consumer); err != nil {
		return d, err
	}
	if d.tail, err = policy(stream.Consumer); err != nil {
		return d, err
	}
	if p.api {
		if d.store, err = deadletter.NewStore(s.pool, deadletter.StoreConfig{Brokers: s.kafka.brokers, Transport: s.kafka.Transport, Logger: s.logger}); err != nil {
			return d, err
		}
		stops.push(func() { _ = d.store.Close() })
	}
	return d, nil
}

// ensureDeadLetterTopic creates the dead-letter topic, as the relay creates
// the main one, without holding up the start: until it exists a dead letter
// waits (its consumer retries the write).
func ensureDeadLetterTopic(ctx context.Context, g *errgroup.Group, d deadLetters) {
	if d.writer == nil {
		return
	}
	g.Go(func() error {
		if err := d.writer.EnsureTopic(ctx); err != nil && ctx.Err() == nil {
			return fmt.Errorf("dead-letter topic: %w", err)
		}
		return nil
	})
}

// pendingDeadLetters reports crier_dead_letters_pending from PostgreSQL, in
// the process that reports the other database metrics (the relay's).
func pendingDeadLetters(s shared) *metrics.DeadLettersPending {
	return metrics.NewDeadLettersPending(func(ctx context.Context) (map[string]int64, error) {
		return deadletter.CountUnresolved(ctx, s.pool)
	}, []string{audience.Consumer, stream.Consumer}, s.logger)
}
