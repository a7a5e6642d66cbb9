package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/config"
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
}

// Crier is the real `crier all` (API, worker, relay) in a child process.
// The benchmark creates broadcasts with the same two calls as the API's
// create handler (store.Insert starting the workflow inside the
// transaction), skipping HTTP so that creating 10,000 takes seconds.
type Crier struct {
	cfg    CrierConfig
	cmd    *exec.Cmd
	exited chan error
	pool   *pgxpool.Pool
	store  *store.Store
	wc     *workflows.Client
}

// StartCrier starts `crier all` and waits until it is ready.
func StartCrier(ctx context.Context, cfg CrierConfig) (*Crier, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.Binary, "all")
	cmd.Env = append(os.Environ(),
		"CRIER_ENV=development", "CRIER_ENV_FILE="+os.DevNull,
		"DATABASE_URL="+cfg.DatabaseURL, "KAFKA_BROKERS="+strings.Join(cfg.Brokers, ","),
		"TEMPORAL_ADDRESS="+cfg.TemporalAddress,
		"CRIER_KAFKA_TOPIC="+cfg.Topic, "CRIER_TASK_QUEUE="+cfg.TaskQueue,
		"CRIER_HTTP_ADDR="+addr, "CRIER_NODE_ID=crierbench",
		"CRIER_LOG_LEVEL="+envOr("CRIER_LOG_LEVEL", "warn"), "OTEL_SDK_DISABLED=true",
	)
	cmd.Stdout, cmd.Stderr = cfg.Log, cfg.Log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s all: %w", cfg.Binary, err)
	}
	c := &Crier{cfg: cfg, cmd: cmd, exited: make(chan error, 1)}
	go func() { c.exited <- cmd.Wait() }()
	if err := c.waitReady(ctx, "http://"+addr+"/readyz", 90*time.Second); err != nil {
		_ = c.Close()
		return nil, err
	}
	poolURL, err := WithPoolSize(cfg.DatabaseURL, creators+4)
	if err == nil {
		c.pool, err = store.Connect(ctx, poolURL)
	}
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	c.store = store.New(c.pool)
	// The same lead as the API would give each workflow (crier inherits
	// CRIER_PUBLISH_LEAD and CRIER_BURST_WAKE_RATE from this environment).
	lead := workflows.Lead{Base: config.DefaultPublishLead, Rate: config.DefaultBurstWakeRate, Count: c.store.CountDueAround}
	if v := os.Getenv("CRIER_PUBLISH_LEAD"); v != "" {
		if lead.Base, err = time.ParseDuration(v); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("CRIER_PUBLISH_LEAD: %w", err)
		}
	}
	if v := os.Getenv("CRIER_BURST_WAKE_RATE"); v != "" {
		if lead.Rate, err = strconv.ParseFloat(v, 64); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("CRIER_BURST_WAKE_RATE: %w", err)
		}
	}
	c.wc = &workflows.Client{Temporal: cfg.Temporal, TaskQueue: cfg.TaskQueue, Lead: lead}
	return c, nil
}

func (c *Crier) waitReady(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-c.exited:
			c.exited <- err
			return fmt.Errorf("crier all exited before it was ready: %v (see its log)", err)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz answered %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("crier all not ready within %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
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

// WakeLead is how early the workflows of a burst of n wake, at most.
func (c *Crier) WakeLead(n int) time.Duration {
	return c.wc.Lead.After(n)
}

// Arm implements System: Crier's workflows are already waiting.
func (c *Crier) Arm(context.Context, time.Time) time.Duration { return 0 }

// Close stops crier with SIGTERM, as an operator would, and kills it if it
// has not stopped within its shutdown timeout and some.
func (c *Crier) Close() error {
	if c.pool != nil {
		c.pool.Close()
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.exited:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("crier all: %w", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		return errors.New("crier all did not stop within 30 s of SIGTERM; killed")
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
