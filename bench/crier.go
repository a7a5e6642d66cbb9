package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/due"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/workflows"
)

// CrierConfig configures the Crier system.
type CrierConfig struct {
	// Name is the system's name in the report. Default "Crier".
	Name string
	// Binary is the crier executable to run as `crier all`. Required.
	Binary string
	// DatabaseURL is Crier's own (migrated) database. Required.
	DatabaseURL string
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// TemporalAddress is the Temporal frontend. Required.
	TemporalAddress string
	// Temporal is the benchmark's client, used to start the workflows of
	// the broadcasts it creates. Required.
	Temporal client.Client
	// Topic and TaskQueue are Crier's for this benchmark. Required.
	Topic, TaskQueue string
	// Log receives Crier's output. Default: discarded.
	Log io.Writer
	// MaxBurst, when positive, is the largest burst this system runs.
	MaxBurst int
	// Reader connects one SSE client, a user of the role the benchmark's
	// broadcasts target, to time their arrival at a live client too.
	Reader bool
}

// Crier is the real `crier all` (API, worker, relay) in a child process.
// The benchmark creates broadcasts with the same two calls as the API's
// create handler (store.Insert starting the workflow inside the
// transaction), skipping HTTP so that creating 10,000 takes seconds.
type Crier struct {
	*Node
	cfg      CrierConfig
	pool     *pgxpool.Pool
	store    *store.Store
	wc       *workflows.Client
	reader   *sseClient
	received atomic.Int64
}

// StartCrier starts `crier all` and waits until it is ready.
func StartCrier(ctx context.Context, cfg CrierConfig) (*Crier, error) {
	secret, err := randomJWTSecret()
	if err != nil {
		return nil, err
	}
	node, err := StartNode(ctx, NodeConfig{Binary: cfg.Binary, DatabaseURL: cfg.DatabaseURL, Brokers: cfg.Brokers,
		TemporalAddress: cfg.TemporalAddress, Topic: cfg.Topic, TaskQueue: cfg.TaskQueue, Log: cfg.Log,
		// The reader is one user who gets every broadcast of a burst at
		// once: its queue holds a whole burst rather than dropping it (a
		// real user gets a few at a time, and catches up on reconnect).
		Env: []string{"CRIER_JWT_SECRET=" + secret, "CRIER_SSE_QUEUE=20000"}})
	if err != nil {
		return nil, err
	}
	c := &Crier{Node: node, cfg: cfg}
	poolURL, err := WithPoolSize(cfg.DatabaseURL, creators+4)
	if err == nil {
		c.pool, err = store.Connect(ctx, poolURL)
	}
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	c.store = store.New(c.pool)
	c.wc = &workflows.Client{Temporal: cfg.Temporal, TaskQueue: cfg.TaskQueue}
	if cfg.Reader {
		token, err := auth.Issue([]byte(secret), "crierbench-reader", "Benchmark reader", []string{benchRole}, 24*time.Hour, time.Now())
		if err == nil {
			c.reader, err = openStream(ctx, net.IPv4(127, 0, 0, 1), strings.TrimPrefix(c.URL, "http://"), token, &c.received)
		}
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("connect the SSE reader: %w", err)
		}
	}
	return c, nil
}

// ReadAt is when the SSE reader first read each broadcast (nil without one).
func (c *Crier) ReadAt() map[uuid.UUID]time.Time {
	if c.reader == nil {
		return nil
	}
	return c.reader.arrivedAt()
}

// CrierOnServer names Crier running on the Temporal server on PostgreSQL.
const CrierOnServer = "Crier, Temporal server on PostgreSQL"

// Name implements System.
func (c *Crier) Name() string { return cmp.Or(c.cfg.Name, "Crier") }

// Topic implements System.
func (c *Crier) Topic() string { return c.cfg.Topic }

// Create implements System: the API's create, without HTTP.
func (c *Crier) Create(ctx context.Context, bs []broadcast.Broadcast) error {
	return insertAll(ctx, c.store, bs, c.wc.Start)
}

// MaxBurst is the largest burst this system runs (0: any).
func (c *Crier) MaxBurst() int { return c.cfg.MaxBurst }

// KnownAhead is how long before its due time Crier must hold a broadcast
// for its workers' due dispatchers to have read it (internal/due reads what
// falls due every due.DefaultEvery): broadcasts are created ahead of time,
// usually hours before. A burst created closer than that is published by its
// workflows' timers.
func (c *Crier) KnownAhead(int) time.Duration { return 2 * due.DefaultEvery }

// Arm implements System: Crier's workflows are already waiting.
func (c *Crier) Arm(context.Context, time.Time) time.Duration { return 0 }

// Close stops crier.
func (c *Crier) Close() error {
	if c.reader != nil {
		c.reader.close()
	}
	if c.pool != nil {
		c.pool.Close()
	}
	return c.Node.Close()
}
