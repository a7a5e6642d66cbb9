package bench

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/outbox"
	"github.com/crier/crier/internal/store"
)

// NaiveWorkflowName is the registered name of NaiveBroadcast.
const NaiveWorkflowName = "BenchNaiveBroadcast"

// NaiveInput starts a NaiveBroadcast.
type NaiveInput struct {
	BroadcastID uuid.UUID
	ScheduledAt time.Time
}

// NaiveBroadcast is the workflow a first Temporal design would write: sleep
// until scheduled_at, then one ordinary (not local) activity that publishes.
// It exists only as the benchmark's baseline.
func NaiveBroadcast(ctx workflow.Context, in NaiveInput) error {
	if d := in.ScheduledAt.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return err
		}
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	return workflow.ExecuteActivity(ctx, naivePublishName, in.BroadcastID).Get(ctx, nil)
}

const naivePublishName = "BenchNaivePublish"

// naiveActivities publish through Crier's own store: the same guarded
// UPDATE and outbox insert as Crier's publish activity.
type naiveActivities struct{ store *store.Store }

func (a *naiveActivities) publish(ctx context.Context, id uuid.UUID) error {
	_, err := a.store.Publish(ctx, id)
	return err
}

// NaiveConfig configures the naive baseline.
type NaiveConfig struct {
	// DatabaseURL is the baseline's own (migrated) database. Required.
	DatabaseURL string
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// Temporal is the client its worker and starts use. Required.
	Temporal client.Client
	// Topic and TaskQueue are the baseline's own. Required.
	Topic, TaskQueue string
	// Logger receives the relay's and worker's logs. Default slog.Default().
	Logger *slog.Logger
}

// Naive is the naive-workflow baseline: a worker with default options on its
// own task queue, and Crier's outbox relay (default configuration) on its
// own database and topic, in this process.
type Naive struct {
	cfg     NaiveConfig
	pool    *pgxpool.Pool // the activities', sized by pgxpool's default, like Crier's
	creator *pgxpool.Pool
	store   *store.Store
	worker  worker.Worker
	relay   *outbox.Relay
	stop    context.CancelFunc
	relayed chan error
}

// StartNaive starts the baseline's worker and relay.
func StartNaive(ctx context.Context, cfg NaiveConfig) (*Naive, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Naive{cfg: cfg, relayed: make(chan error, 1)}
	var err error
	if n.pool, err = store.Connect(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	creatorURL, err := WithPoolSize(cfg.DatabaseURL, creators+4)
	if err == nil {
		n.creator, err = store.Connect(ctx, creatorURL)
	}
	if err != nil {
		n.pool.Close()
		return nil, err
	}
	n.store = store.New(n.creator)
	n.relay, err = outbox.New(n.pool, outbox.Config{Brokers: cfg.Brokers, Topic: cfg.Topic, Logger: cfg.Logger})
	if err != nil {
		_ = n.Close()
		return nil, err
	}
	relayCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	n.stop = stop
	go func() { n.relayed <- n.relay.Run(relayCtx) }()

	n.worker = worker.New(cfg.Temporal, cfg.TaskQueue, worker.Options{}) // the defaults, on purpose
	n.worker.RegisterWorkflowWithOptions(NaiveBroadcast, workflow.RegisterOptions{Name: NaiveWorkflowName})
	acts := &naiveActivities{store: store.New(n.pool)}
	n.worker.RegisterActivityWithOptions(acts.publish, activity.RegisterOptions{Name: naivePublishName})
	if err := n.worker.Start(); err != nil {
		_ = n.Close()
		return nil, fmt.Errorf("start naive worker: %w", err)
	}
	return n, nil
}

// Name implements System.
func (n *Naive) Name() string { return "naive workflow" }

// Topic implements System.
func (n *Naive) Topic() string { return n.cfg.Topic }

// Create implements System: store.Insert starting the naive workflow in the
// transaction, as Crier's API does with its own.
func (n *Naive) Create(ctx context.Context, bs []broadcast.Broadcast) error {
	return insertAll(ctx, n.store, bs, func(ctx context.Context, b broadcast.Broadcast) error {
		_, err := n.cfg.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: "bench-naive:" + b.ID.String(), TaskQueue: n.cfg.TaskQueue,
		}, NaiveWorkflowName, NaiveInput{BroadcastID: b.ID, ScheduledAt: *b.ScheduledAt})
		return err
	})
}

// Arm implements System: the workflows are already waiting.
func (n *Naive) Arm(context.Context, time.Time) time.Duration { return 0 }

// Close stops the worker and the relay.
func (n *Naive) Close() error {
	if n.worker != nil {
		n.worker.Stop()
	}
	var err error
	if n.stop != nil {
		n.stop()
		err = <-n.relayed
	}
	if n.relay != nil {
		_ = n.relay.Close()
	}
	if n.creator != nil {
		n.creator.Close()
	}
	n.pool.Close()
	return err
}
