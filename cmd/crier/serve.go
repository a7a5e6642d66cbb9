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
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/kafkaconn"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/tracing"
	"github.com/crier/crier/migrations"
)

// parts are the parts a process kind runs: "all" runs the three.
type parts struct{ api, worker, relay bool }

func partsOf(kind string) parts {
	return parts{api: kind == "api" || kind == "all", worker: kind == "worker" || kind == "all", relay: kind == "relay" || kind == "all"}
}

// serve runs the parts of process kind ("api", "worker", "relay" or "all")
// until ctx ends, then stops them within the shutdown timeout.
func serve(ctx context.Context, kind string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := newLogger(cfg, stderr).With("process", kind)
	slog.SetDefault(logger)
	for _, w := range cfg.EngineWarnings() {
		logger.Warn(w)
	}
	p := partsOf(kind)
	for _, l := range cfg.ExposedInDevelopment(p.api) {
		logger.Warn("DEVELOPMENT MODE on an address other machines can reach: its checks are relaxed for a developer's machine; "+
			"set CRIER_ENV=production anywhere else", "setting", l.Setting, "addr", l.Addr)
	}
	var stops cleanups
	defer stops.run()
	shared, err := startShared(ctx, kind, p, cfg, logger, &stops)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	if err := startParts(ctx, g, p, shared, cfg, &stops); err != nil {
		return err
	}
	err = waitWithin(ctx, g, cfg.ShutdownTimeout, logger)
	logger.Info("Stopped")
	return err
}

// shared is what the parts of a process are built from.
type shared struct {
	logger   *slog.Logger
	pool     *pgxpool.Pool
	kafka    kafkaLink
	temporal client.Client // nil in a relay on its own
	registry *prometheus.Registry
	// deadLetters is what the consumers dead-letter through (api, worker).
	deadLetters deadLetters
}

// kafkaLink is where Crier's Kafka clients connect and how.
type kafkaLink struct {
	brokers []string
	kafkaconn.Link
}

// cleanups holds the stop functions of what a process started, run in
// reverse order when it ends.
type cleanups []func()

func (s *cleanups) push(stop func()) { *s = append(*s, stop) }

func (s cleanups) run() {
	for i := len(s) - 1; i >= 0; i-- {
		s[i]()
	}
}

// startShared starts what the parts share: the database, the Kafka link,
// tracing, the metrics registry and (for the API and the worker) the
// Temporal client.
func startShared(ctx context.Context, kind string, p parts, cfg config.Config, logger *slog.Logger, stops *cleanups) (shared, error) {
	s := shared{logger: logger, registry: metrics.NewRegistry()}
	var err error
	if s.kafka, err = startKafkaLink(cfg, logger, stops); err != nil {
		return s, err
	}
	if s.pool, err = startDatabase(ctx, cfg, logger, stops); err != nil {
		return s, err
	}
	if err := startTracing(ctx, "crier-"+kind, logger, stops); err != nil {
		return s, err
	}
	if p.relay {
		// Broadcasts by status, outbox backlog, dead letters pending.
		s.registry.MustRegister(metrics.NewDatabase(s.pool, logger), pendingDeadLetters(s))
	}
	if s.deadLetters, err = startDeadLetters(p, s, cfg, stops); err != nil {
		return s, err
	}
	if p.api || p.worker {
		s.temporal, err = startTemporal(ctx, cfg, logger, s.registry, stops)
	}
	return s, err
}

// startParts starts the parts p names, and the servers every process has,
// in g.
func startParts(ctx context.Context, g *errgroup.Group, p parts, s shared, cfg config.Config, stops *cleanups) error {
	ensureDeadLetterTopic(ctx, g, s.deadLetters)
	if p.worker {
		if err := startAudienceConsumer(ctx, g, s.pool, materializerConfig(cfg, s)); err != nil {
			return err
		}
		if err := startWorker(ctx, g, s, workerConfig(cfg, s.logger)); err != nil {
			return err
		}
	}
	if p.relay {
		if err := startRelay(ctx, g, s.pool, relayConfig(cfg, s), stops); err != nil {
			return err
		}
	}
	if p.api {
		if err := startAPI(ctx, g, s, cfg); err != nil {
			return err
		}
	}
	if cfg.DebugAddr != "" {
		g.Go(func() error { return serveDebug(ctx, cfg.DebugAddr, s.logger) })
	}
	if !p.api && cfg.MetricsAddr != "" {
		g.Go(func() error { return serveMetrics(ctx, cfg.MetricsAddr, metricsHandler(s.registry), s.logger) })
	}
	return nil
}

// startKafkaLink builds the Kafka link, starting the embedded broker when
// KAFKA_BROKERS is "embedded".
func startKafkaLink(cfg config.Config, logger *slog.Logger, stops *cleanups) (kafkaLink, error) {
	link, err := kafkaconn.New(cfg.KafkaSecurity)
	if err != nil {
		return kafkaLink{}, fmt.Errorf("set up the Kafka link: %w", err)
	}
	brokers := cfg.KafkaBrokers
	if len(brokers) == 1 && brokers[0] == "embedded" {
		cluster, err := startEmbeddedKafka(logger)
		if err != nil {
			return kafkaLink{}, err
		}
		stops.push(cluster.Close)
		brokers = cluster.ListenAddrs()
	}
	logger.Info("Kafka link", "brokers", brokers, "security", cfg.KafkaSecurity.String())
	return kafkaLink{brokers: brokers, Link: link}, nil
}

// startDatabase applies the migrations when CRIER_MIGRATE says so and opens
// the pool.
func startDatabase(ctx context.Context, cfg config.Config, logger *slog.Logger, stops *cleanups) (*pgxpool.Pool, error) {
	if cfg.Migrate {
		if _, err := migrations.Up(cfg.DatabaseURL, logger); err != nil {
			return nil, err
		}
	}
	pool, err := store.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	stops.push(pool.Close)
	return pool, nil
}

// startTracing exports traces when the OTEL_* variables ask for it; the
// stop flushes them.
func startTracing(ctx context.Context, service string, logger *slog.Logger, stops *cleanups) error {
	stopTracing, err := tracing.Setup(ctx, service)
	if err != nil {
		return err
	}
	stops.push(func() {
		flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(flush); err != nil {
			logger.Warn("Could not flush traces", "error", err)
		}
	})
	return nil
}

// startTemporal dials Temporal with the SDK's metrics in registry.
func startTemporal(ctx context.Context, cfg config.Config, logger *slog.Logger, registry *prometheus.Registry, stops *cleanups) (client.Client, error) {
	sdkMetrics, closeMetrics := temporalMetrics(registry)
	stops.push(func() { _ = closeMetrics.Close() })
	tc, err := dialTemporal(ctx, cfg, logger, sdkMetrics)
	if err != nil {
		return nil, err
	}
	stops.push(tc.Close)
	return tc, nil
}

// serveHTTP serves until ctx ends, then closes the event streams (they would
// otherwise hold the shutdown until its deadline) and shuts down gracefully.
func serveHTTP(ctx context.Context, cfg config.Config, handler http.Handler, logger *slog.Logger, closeStreams func()) error {
	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Above workflows.UpdateWait, so a cancel that waits for its
		// workflow is answered (503 at worst), never cut off.
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  2 * time.Minute,
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.HTTPAddr)
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
			return nil, fmt.Errorf("set up Temporal tracing: %w", err)
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

func readinessChecks(brokers []string, dialer *kafka.Dialer, pool *pgxpool.Pool, tc client.Client) []api.Check {
	return []api.Check{
		{Name: "postgres", Check: pool.Ping},
		{Name: "temporal", Check: func(ctx context.Context) error {
			_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}},
		{Name: "kafka", Check: func(ctx context.Context) error {
			var errs []error
			for _, b := range brokers {
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
