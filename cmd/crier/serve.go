package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/kafkaconn"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/outbox"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/tracing"
	"github.com/crier/crier/migrations"
	"github.com/crier/crier/worker"
	"github.com/crier/crier/workflows"
)

// serve runs the api, worker and relay components named by cmd ("all" runs
// the three) until ctx ends, then stops them within the shutdown timeout.
func serve(ctx context.Context, cmd string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := newLogger(cfg, stderr).With("process", cmd)
	slog.SetDefault(logger)
	for _, w := range cfg.EngineWarnings() {
		logger.Warn(w)
	}
	kafkaLink, err := kafkaconn.New(cfg.KafkaSecurity)
	if err != nil {
		return fmt.Errorf("Kafka link: %w", err)
	}
	runAPI, runWorker, runRelay := cmd == "api" || cmd == "all", cmd == "worker" || cmd == "all", cmd == "relay" || cmd == "all"
	for _, l := range cfg.ExposedInDevelopment(runAPI) {
		logger.Warn("DEVELOPMENT MODE on an address other machines can reach: its checks are relaxed for a developer's machine; "+
			"set CRIER_ENV=production anywhere else", "setting", l.Setting, "addr", l.Addr)
	}

	if cfg.Migrate {
		if _, err := migrations.Up(cfg.DatabaseURL, logger); err != nil {
			return err
		}
	}
	pool, err := store.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	st := store.New(pool)

	if len(cfg.KafkaBrokers) == 1 && cfg.KafkaBrokers[0] == "embedded" {
		cluster, err := startEmbeddedKafka(logger)
		if err != nil {
			return err
		}
		defer cluster.Close()
		cfg.KafkaBrokers = cluster.ListenAddrs()
	}
	logger.Info("Kafka link", "brokers", cfg.KafkaBrokers, "security", cfg.KafkaSecurity.String())

	stopTracing, err := tracing.Setup(ctx, "crier-"+cmd)
	if err != nil {
		return err
	}
	defer func() {
		flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(flush); err != nil {
			logger.Warn("Could not flush traces", "error", err)
		}
	}()
	registry := metrics.NewRegistry()
	if runRelay {
		registry.MustRegister(metrics.NewDatabase(pool, logger)) // broadcasts by status, outbox backlog
	}
	var tc client.Client
	if runAPI || runWorker {
		sdkMetrics, closeMetrics := temporalMetrics(registry)
		defer closeMetrics.Close()
		if tc, err = dialTemporal(ctx, cfg, logger, sdkMetrics); err != nil {
			return err
		}
		defer tc.Close()
	}

	aud, err := audience.New(pool, audience.Config{})
	if err != nil {
		return err
	}
	auditLog, err := audit.New(pool)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	if runWorker {
		// Fan-out on write and audience counts, from the topic; workers
		// share the partitions through their consumer group.
		m, err := audience.NewMaterializer(pool, audience.MaterializerConfig{Brokers: cfg.KafkaBrokers, Dialer: kafkaLink.Dialer,
			Topic: cfg.KafkaTopic, Logger: logger})
		if err != nil {
			return err
		}
		g.Go(func() error { return m.Run(ctx) })
		if err := worker.RegisterSearchAttributes(ctx, tc, cfg.TemporalNamespace, logger); err != nil {
			logger.Warn("Could not register search attributes; Web UI cannot filter by status until an operator adds them", "error", err)
		}
		w := worker.New(tc, &activities.Activities{Store: store.NewPublishBatcher(st)}, worker.Config{TaskQueue: cfg.TaskQueue, Logger: logger,
			Presence: &activities.PresenceActivities{Store: presence.New(pool)}})
		if err := w.Start(); err != nil {
			return fmt.Errorf("start Temporal worker: %w", err)
		}
		if err := worker.EnsurePresenceSchedule(ctx, tc, worker.ScheduleConfig{TaskQueue: cfg.TaskQueue, Logger: logger}); err != nil {
			logger.Warn("Could not ensure the presence clean-up schedule; the next worker start retries", "error", err)
		}
		logger.Info("Temporal worker started", "task_queue", cfg.TaskQueue, "temporal", cfg.TemporalAddress)
		g.Go(func() error {
			<-ctx.Done()
			w.Stop()
			logger.Info("Temporal worker stopped")
			return nil
		})
	}
	if runRelay {
		relay, err := outbox.New(pool, outbox.Config{
			Brokers: cfg.KafkaBrokers, Transport: kafkaLink.Transport, Topic: cfg.KafkaTopic, Partitions: cfg.KafkaPartitions,
			ReplicationFactor: cfg.KafkaReplicationFactor, BatchSize: cfg.RelayBatchSize,
			PollInterval: cfg.RelayPollInterval, Logger: logger,
		})
		if err != nil {
			return err
		}
		defer relay.Close()
		g.Go(func() error {
			if err := relay.EnsureTopic(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			return relay.Run(ctx)
		})
	}
	if runAPI {
		vc := cfg.VerifierConfig()
		vc.Logger = logger
		verifier, err := auth.NewVerifierFromConfig(ctx, vc) // ctx ends the JWKS refresh at shutdown
		if err != nil {
			return fmt.Errorf("token verification: %w", err)
		}
		d := startDelivery(ctx, g, cfg, kafkaLink.Dialer, pool, aud, logger)
		handler := api.New(st, &workflows.Client{Temporal: tc, TaskQueue: cfg.TaskQueue,
			Lead:             workflows.Lead{Base: cfg.PublishLead, Rate: float64(cfg.BurstWakeRate), Count: st.CountDueAround},
			SendNowTolerance: cfg.SendNowTolerance}, api.Config{
			Verifier: verifier,
			Rules:    broadcast.Rules{SendNowTolerance: cfg.SendNowTolerance, DefaultExpiry: cfg.DefaultExpiry},
			Ready:    readinessChecks(cfg, kafkaLink.Dialer, pool, tc),
			Logger:   logger,
			Presence: d.presence,
			Audience: aud,
			Audit:    auditLog,
			Metrics:  metricsHandler(registry),
			Users:    d.users,
			Security: api.SecurityConfig{
				PerAddress: cfg.RatePerAddress, PerUser: cfg.RatePerUser, StreamConnects: cfg.RateStreamConnects,
				CORSOrigins: cfg.CORSOrigins, HSTS: cfg.HSTS, TrustedProxies: cfg.TrustedProxies,
			},
		})
		g.Go(func() error { return serveHTTP(ctx, cfg, handler, logger, d.streams.Close) })
	}
	if cfg.DebugAddr != "" {
		g.Go(func() error { return serveDebug(ctx, cfg.DebugAddr, logger) })
	}
	if !runAPI && cfg.MetricsAddr != "" {
		g.Go(func() error { return serveMetrics(ctx, cfg.MetricsAddr, metricsHandler(registry), logger) })
	}
	err = waitWithin(ctx, g, cfg.ShutdownTimeout, logger)
	logger.Info("Stopped")
	return err
}

// serveHTTP serves until ctx ends, then closes the event streams (they would
// otherwise hold the shutdown until its deadline) and shuts down gracefully.
func serveHTTP(ctx context.Context, cfg config.Config, handler http.Handler, logger *slog.Logger, closeStreams func()) error {
	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (CRIER_HTTP_ADDR): %w", cfg.HTTPAddr, err)
	}
	logger.Info("API listening", "url", "http://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	closeStreams()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("stop API: %w", err)
	}
	logger.Info("API stopped")
	return nil
}

// dialTemporal connects to Temporal with the link's TLS and API key,
// retrying for a minute so processes may start in any order.
func dialTemporal(ctx context.Context, cfg config.Config, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts, err := cfg.TemporalClientOptions()
	if err != nil {
		return nil, err
	}
	opts.Logger = tlog.NewStructuredLogger(logger.With("component", "temporal"))
	opts.MetricsHandler = metrics
	if tracing.Enabled() {
		// Workflow starts, updates, workflows and activities join the
		// caller's trace, so one trace runs from the API call onwards.
		tracer, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{})
		if err != nil {
			return nil, fmt.Errorf("Temporal tracing: %w", err)
		}
		opts.Interceptors = []interceptor.ClientInterceptor{tracer}
	}
	deadline := time.Now().Add(time.Minute)
	for attempt := 1; ; attempt++ {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("reach Temporal at %s (TEMPORAL_ADDRESS): %w", cfg.TemporalAddress, err)
		}
		logger.Warn("Temporal not reachable yet; retrying", "address", cfg.TemporalAddress, "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func readinessChecks(cfg config.Config, dialer *kafka.Dialer, pool *pgxpool.Pool, tc client.Client) []api.Check {
	return []api.Check{
		{Name: "postgres", Check: pool.Ping},
		{Name: "temporal", Check: func(ctx context.Context) error {
			_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}},
		{Name: "kafka", Check: func(ctx context.Context) error {
			var errs []error
			for _, b := range cfg.KafkaBrokers {
				conn, err := dialer.DialContext(ctx, "tcp", b) // authenticates, as the clients do
				if err == nil {
					return conn.Close()
				}
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		}},
		{Name: "migrations", Check: func(ctx context.Context) error {
			return migrations.Check(ctx, pool)
		}},
	}
}

// startEmbeddedKafka runs an in-process Kafka-protocol broker for
// development on machines without Java. Its data lives in memory only.
func startEmbeddedKafka(logger *slog.Logger) (*kfake.Cluster, error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(9092))
	if err != nil {
		return nil, fmt.Errorf("start embedded Kafka: %w", err)
	}
	logger.Warn("Using an embedded in-memory Kafka-protocol broker (development only; events are lost on exit)",
		"brokers", cluster.ListenAddrs())
	return cluster, nil
}

// waitWithin waits for the components to finish. Once ctx ends (SIGTERM or
// Ctrl-C) they have the shutdown timeout to stop cleanly; a component still
// running then is abandoned, so a stop never hangs.
func waitWithin(ctx context.Context, g *errgroup.Group, timeout time.Duration, logger *slog.Logger) error {
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	logger.Info("Stopping", "deadline", timeout)
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		logger.Error("Components did not stop within the shutdown timeout; exiting anyway", "timeout", timeout)
		return fmt.Errorf("shutdown took longer than %s (CRIER_SHUTDOWN_TIMEOUT)", timeout)
	}
}
