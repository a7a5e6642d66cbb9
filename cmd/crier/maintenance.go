package main

// The worker's maintenance: the schedule of the maintenance run (stale
// presence, then retention), its activities, its metrics, Temporal's
// namespace retention, and the check of the processed-events horizon
// against what Kafka can still redeliver.

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/kafkatopic"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/retention"
	"github.com/crier/crier/worker"
	"github.com/crier/crier/workflows"
)

// horizons are the maintenance run's retention horizons, from the
// configuration: a zero one (off) leaves its table alone.
func horizons(cfg config.Config) workflows.RetentionHorizons {
	return workflows.RetentionHorizons{
		Outbox: cfg.Retention.Outbox, ProcessedEvents: cfg.Retention.ProcessedEvents,
		Deliveries: cfg.Retention.Deliveries, StreamEvents: cfg.SSEReplayWindow,
	}
}

// maintenanceActivities are the activities of the maintenance run.
func maintenanceActivities(pool *pgxpool.Pool) (*activities.PresenceActivities, error) {
	pruner, err := retention.New(pool, retention.Config{})
	if err != nil {
		return nil, err
	}
	return &activities.PresenceActivities{Store: presence.New(pool), Retention: pruner}, nil
}

// startMaintenance makes sure the maintenance schedule and the namespace's
// retention are as configured, reports the horizons and the oldest rows
// they govern at /metrics, and checks the processed-events horizon against
// the topic. What Crier may not change is warned about; the worker runs on.
func startMaintenance(ctx context.Context, g *errgroup.Group, s shared, cfg workerSection) {
	logger := s.logger
	h := cfg.schedule.Retention
	for _, t := range retention.Tables {
		metrics.RetentionDeleted.WithLabelValues(string(t)) // 0 from the start, not nothing
	}
	s.registry.MustRegister(metrics.NewRetention(s.pool, map[string]time.Duration{
		string(retention.Outbox): h.Outbox, string(retention.ProcessedEvents): h.ProcessedEvents,
		string(retention.Deliveries): h.Deliveries, string(retention.StreamEvents): h.StreamEvents,
	}, logger))
	if err := worker.EnsureNamespaceRetention(ctx, s.temporal, cfg.namespace, cfg.temporalRetention, logger); err != nil {
		logger.Warn("Could not set the Temporal namespace's retention; an operator sets it, or CRIER_TEMPORAL_RETENTION=off stops trying",
			"namespace", cfg.namespace, "retention", cfg.temporalRetention, "error", err)
	}
	if err := worker.EnsurePresenceSchedule(ctx, s.temporal, cfg.schedule); err != nil {
		logger.Warn("Could not ensure the maintenance schedule; the next worker start retries", "error", err)
	}
	if h.ProcessedEvents > 0 {
		client := &kafka.Client{Addr: kafka.TCP(s.kafka.brokers...), Timeout: 10 * time.Second, Transport: s.kafka.Transport}
		g.Go(func() error {
			checkRedelivery(ctx, s.kafka, client, cfg.topic, h.ProcessedEvents, logger)
			return nil
		})
	}
}

// checkRedelivery warns when Kafka may redeliver events older than the
// processed-events horizon: the audience consumer would no longer know it
// applied them. It waits for the topic (the relay creates it).
func checkRedelivery(ctx context.Context, link kafkaLink, client *kafka.Client, topic string, horizon time.Duration, logger *slog.Logger) {
	if _, err := kafkatopic.Partitions(ctx, link.Dialer, link.brokers, topic, logger); err != nil {
		return // stopped first
	}
	oldest, forever, err := kafkatopic.OldestKept(ctx, client, topic)
	switch {
	case err != nil:
		logger.Info("Could not read the topic's retention to check CRIER_RETAIN_PROCESSED_EVENTS against it", "topic", topic, "error", err)
	case forever || oldest > horizon:
		logger.Warn("Kafka may redeliver events older than CRIER_RETAIN_PROCESSED_EVENTS: the audience consumer would apply them again "+
			"if its offsets were lost; raise it over the topic's retention.ms plus segment.ms",
			"topic", topic, "retain_processed_events", horizon, "kafka_keeps_up_to", oldest, "kept_forever", forever)
	}
}
