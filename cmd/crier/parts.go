package main

// The parts a process starts, one function each. A part gets what it is
// built from (the shared pool, link and clients) and its own section of the
// configuration, in the shape of its package's Config.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/due"
	"github.com/crier/crier/internal/outbox"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/worker"
	"github.com/crier/crier/workflows"
)

// startAudienceConsumer runs fan-out on write and audience counts from the
// topic; workers share the partitions through their consumer group.
func startAudienceConsumer(ctx context.Context, g *errgroup.Group, pool *pgxpool.Pool, cfg audience.MaterializerConfig) error {
	m, err := audience.NewMaterializer(pool, cfg)
	if err != nil {
		return err
	}
	g.Go(func() error { return m.Run(ctx) })
	return nil
}

func materializerConfig(cfg config.Config, s shared) audience.MaterializerConfig {
	return audience.MaterializerConfig{Brokers: s.kafka.brokers, Dialer: s.kafka.Dialer, Topic: cfg.KafkaTopic, Logger: s.logger,
		DeadLetters: s.deadLetters.audience}
}

// workerSection is the worker's part of the configuration.
type workerSection struct {
	worker   worker.Config
	schedule worker.ScheduleConfig
	// namespace receives the search attributes and the retention.
	namespace string
	// temporal is the frontend's address, for the log.
	temporal string
	// temporalRetention is the namespace's retention (0: left alone).
	temporalRetention time.Duration
	// topic is the broadcast topic, whose retention the processed-events
	// horizon is checked against.
	topic string
	// seriesCatchup is how late a series' occurrence may still be made;
	// sendNowTolerance the occurrences' workflows' tolerance.
	seriesCatchup, sendNowTolerance time.Duration
}

func workerConfig(cfg config.Config, logger *slog.Logger) workerSection {
	return workerSection{
		worker:            worker.Config{TaskQueue: cfg.TaskQueue, Logger: logger},
		schedule:          worker.ScheduleConfig{TaskQueue: cfg.TaskQueue, Logger: logger, Retention: horizons(cfg)},
		namespace:         cfg.TemporalNamespace,
		temporal:          cfg.TemporalAddress,
		temporalRetention: cfg.Retention.Temporal,
		topic:             cfg.KafkaTopic,
		seriesCatchup:     cfg.SeriesCatchupWindow,
		sendNowTolerance:  cfg.SendNowTolerance,
	}
}

// startWorker runs broadcast workflows, their activities, the
// maintenance run and the due dispatcher until ctx ends.
func startWorker(ctx context.Context, g *errgroup.Group, s shared, cfg workerSection) error {
	logger := s.logger
	if err := worker.RegisterSearchAttributes(ctx, s.temporal, cfg.namespace, logger); err != nil {
		logger.Warn("Could not register search attributes; Web UI cannot filter by status until an operator adds them", "error", err)
	}
	var err error
	if cfg.worker.Presence, err = maintenanceActivities(s.pool); err != nil {
		return err
	}
	st := store.New(s.pool)
	schedules := &workflows.Schedules{Temporal: s.temporal, TaskQueue: cfg.worker.TaskQueue, CatchupWindow: cfg.seriesCatchup}
	cfg.worker.Series = &activities.SeriesActivities{Store: st, CatchupWindow: cfg.seriesCatchup, DeleteSchedule: schedules.Delete,
		Start: (&workflows.Client{Temporal: s.temporal, TaskQueue: cfg.worker.TaskQueue, SendNowTolerance: cfg.sendNowTolerance}).Start}
	w := worker.New(s.temporal, &activities.Activities{Store: store.NewPublishBatcher(st)}, cfg.worker)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start Temporal worker: %w", err)
	}
	dispatcher, err := due.New(st, due.Config{Logger: logger})
	if err != nil {
		return err
	}
	g.Go(func() error { return dispatcher.Run(ctx) })
	startMaintenance(ctx, g, s, cfg)
	logger.Info("Temporal worker started", "task_queue", cfg.worker.TaskQueue, "temporal", cfg.temporal)
	g.Go(func() error {
		<-ctx.Done()
		w.Stop()
		logger.Info("Temporal worker stopped")
		return nil
	})
	return nil
}

func relayConfig(cfg config.Config, s shared) outbox.Config {
	return outbox.Config{
		Brokers: s.kafka.brokers, Transport: s.kafka.Transport, Topic: cfg.KafkaTopic, Partitions: cfg.KafkaPartitions,
		ReplicationFactor: cfg.KafkaReplicationFactor, BatchSize: cfg.RelayBatchSize,
		PollInterval: cfg.RelayPollInterval, Logger: s.logger,
	}
}

// startRelay creates the topic when it is missing, then relays outbox
// events to it until ctx ends.
func startRelay(ctx context.Context, g *errgroup.Group, pool *pgxpool.Pool, cfg outbox.Config, stops *cleanups) error {
	relay, err := outbox.New(pool, cfg)
	if err != nil {
		return err
	}
	stops.push(func() { _ = relay.Close() })
	g.Go(func() error {
		if err := relay.EnsureTopic(ctx); err != nil {
			if ctx.Err() != nil {
				return nil //nolint:nilerr // stopped before the topic was made: a shutdown, not a failure
			}
			return err
		}
		return relay.Run(ctx)
	})
	return nil
}

// startAPI verifies tokens, starts this node's delivery and serves the API
// until ctx ends.
func startAPI(ctx context.Context, g *errgroup.Group, s shared, cfg config.Config) error {
	vc := cfg.VerifierConfig()
	vc.Logger = s.logger
	verifier, err := auth.NewVerifierFromConfig(ctx, vc) // ctx ends the JWKS refresh at shutdown
	if err != nil {
		return fmt.Errorf("token verification: %w", err)
	}
	aud, err := audience.New(s.pool, audience.Config{})
	if err != nil {
		return err
	}
	auditLog, err := audit.New(s.pool)
	if err != nil {
		return err
	}
	d, err := startDelivery(ctx, g, s, deliveryConfig(cfg, s), aud)
	if err != nil {
		return err
	}
	st := store.New(s.pool)
	adminConsole, err := newConsole(cfg, s, verifier)
	if err != nil {
		return err
	}
	handler := api.New(st, &workflows.Client{Temporal: s.temporal, TaskQueue: cfg.TaskQueue,
		SendNowTolerance: cfg.SendNowTolerance}, api.Config{
		Verifier: verifier,
		Rules:    broadcast.Rules{SendNowTolerance: cfg.SendNowTolerance, DefaultExpiry: cfg.DefaultExpiry},
		Ready:    readinessChecks(s.kafka.brokers, s.kafka.Dialer, s.pool, s.temporal),
		Logger:   s.logger,
		Presence: d.presence,
		Audience: aud,
		Audit:    auditLog,
		// The dead letters' routes; the relay's process reports their count.
		DeadLetters: s.deadLetters.store,
		Metrics:     metricsHandler(s.registry),
		Users:       d.users,
		Series: &api.SeriesConfig{Store: st, Schedules: &workflows.Schedules{Temporal: s.temporal, TaskQueue: cfg.TaskQueue,
			CatchupWindow: cfg.SeriesCatchupWindow}},
		Console: adminConsole,
		Security: api.SecurityConfig{
			PerAddress: cfg.RatePerAddress, PerUser: cfg.RatePerUser, StreamConnects: cfg.RateStreamConnects,
			CORSOrigins: cfg.CORSOrigins, HSTS: cfg.HSTS, TrustedProxies: cfg.TrustedProxies,
		},
	})
	g.Go(func() error { return serveHTTP(ctx, cfg, handler, s.logger, d.streams.Close) })
	return nil
}
