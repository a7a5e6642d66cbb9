package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Env is what every scenario runs on.
type Env struct {
	// CrierBinary is the crier executable. Required.
	CrierBinary string
	// DatabaseURL names any database on the PostgreSQL server: each
	// scenario creates its own. Required.
	DatabaseURL string
	// Brokers are Kafka's bootstrap addresses. Required.
	Brokers []string
	// Replication is the replication of each scenario's topic: 3 on make
	// chaos's cluster. Default 1 (the test broker).
	Replication int
	// TemporalAddress is the Temporal frontend. Required.
	TemporalAddress string
	// StateDir receives each scenario's crier logs. Required.
	StateDir string
	// Services stops and starts PostgreSQL, Kafka brokers and Temporal;
	// nil where nobody may (make test's shared services): the scenarios
	// that need it are then skipped.
	Services Services
	// Burst is how many broadcasts each scenario's burst has. Default 100.
	Burst int
	// Timing places a scenario's steps around its due time. Zero fields
	// take DefaultTiming's.
	Timing Timing
	// DropData drops each scenario's database and topic once it is over
	// (make test's shared services); make chaos keeps them, on services of
	// its own, for a person to look into.
	DropData bool
	// Say prints a progress line. Default: discarded.
	Say func(format string, args ...any)
	// pace remembers how long the last burst took to create, shared by
	// the scenarios of one run (WithDefaults makes it).
	pace *pace
}

// pace is how long creating a burst took last, so the next is due late
// enough to be created, and changed, before its workflows wake.
type pace struct {
	mu   sync.Mutex
	last time.Duration
}

// dueIn is how long after its creation starts a burst is due: t.DueIn, or
// more when the last burst took so long to create that its early changes
// would have come late.
func (p *pace) dueIn(t Timing) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(t.DueIn, t.EarlyChange+2*time.Second+p.last*3/2)
}

func (p *pace) created(took time.Duration) {
	p.mu.Lock()
	p.last = took
	p.mu.Unlock()
}

// Timing places a scenario's steps around its due time, D.
type Timing struct {
	// DueIn is how long after the burst's creation starts it is due.
	DueIn time.Duration
	// EarlyChange is how long before D broadcasts are cancelled or moved
	// before the due dispatchers read them (they read every 2 s what falls
	// due within 10 s).
	EarlyChange time.Duration
	// MoveBy is how much later a rescheduled broadcast becomes due.
	MoveBy time.Duration
	// HoldCancel is how long before D broadcasts are cancelled inside the
	// hold: the dispatchers have read them and wait for D.
	HoldCancel time.Duration
	// HoldFault is how long before D a fault "inside the hold" strikes.
	HoldFault time.Duration
	// ExpireAfter is how long after D the expiring broadcasts expire.
	ExpireAfter time.Duration
	// ExpiryFault is how long after their expiry a fault "during expiries"
	// strikes.
	ExpiryFault time.Duration
}

// DefaultTiming is the timing of make chaos: the burst is created within
// about 5 s, its changes come 15 s ahead (before the dispatchers read them),
// the faults 2 s before D (inside the hold, as the issue measured) or 100 ms
// into the expiries.
var DefaultTiming = Timing{DueIn: 22 * time.Second, EarlyChange: 15 * time.Second, MoveBy: 10 * time.Second,
	HoldCancel: 3 * time.Second, HoldFault: 2 * time.Second, ExpireAfter: 20 * time.Second, ExpiryFault: 100 * time.Millisecond}

func (t Timing) withDefaults() Timing {
	d := DefaultTiming
	for _, f := range []struct{ v, def *time.Duration }{{&t.DueIn, &d.DueIn}, {&t.EarlyChange, &d.EarlyChange},
		{&t.MoveBy, &d.MoveBy}, {&t.HoldCancel, &d.HoldCancel}, {&t.HoldFault, &d.HoldFault},
		{&t.ExpireAfter, &d.ExpireAfter}, {&t.ExpiryFault, &d.ExpiryFault}} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	return t
}

// WithDefaults returns e with its zero fields set to their defaults, or
// why it cannot run.
func (e Env) WithDefaults() (Env, error) {
	if e.CrierBinary == "" || e.DatabaseURL == "" || len(e.Brokers) == 0 || e.TemporalAddress == "" || e.StateDir == "" {
		return e, errors.New("chaos: CrierBinary, DatabaseURL, Brokers, TemporalAddress and StateDir are required")
	}
	if e.Replication <= 0 {
		e.Replication = 1
	}
	if e.Burst <= 0 {
		e.Burst = 100
	}
	e.Timing = e.Timing.withDefaults()
	if e.Say == nil {
		e.Say = func(string, ...any) {}
	}
	if e.pace == nil {
		e.pace = &pace{}
	}
	return e, nil
}

// Services stops and starts the services under Crier, for the faults.
type Services interface {
	// StopPostgres stops PostgreSQL in immediate mode (its processes quit
	// at once; the next start recovers from the WAL, as after a crash).
	StopPostgres(ctx context.Context) error
	StartPostgres(ctx context.Context) error
	// KillBroker crashes Kafka node id (SIGKILL); StartBroker starts it
	// again on its ports and data.
	KillBroker(ctx context.Context, id int) error
	StartBroker(ctx context.Context, id int) error
	// StopTemporal stops the Temporal server; StartTemporal starts it
	// again on the same address and its persisted state.
	StopTemporal(ctx context.Context) error
	StartTemporal(ctx context.Context) error
}

// Scripts are Services through the project's own scripts, on the state
// folders scripts/chaos.sh started them in.
type Scripts struct {
	// Dir is the scripts folder (scripts/).
	Dir string
	// PostgresDir and PostgresPort are scripts/postgres.sh's DIR and PORT.
	PostgresDir  string
	PostgresPort int
	// KafkaDir is scripts/kafka-cluster.sh's DIR.
	KafkaDir string
	// TemporalDir, TemporalPort and TemporalUIPort are scripts/temporal.sh's.
	TemporalDir                  string
	TemporalPort, TemporalUIPort int
	// Log receives the scripts' output. Required.
	Log *os.File
}

func (s Scripts) run(ctx context.Context, script string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.Dir, script), args...) //nolint:gosec // G204: the project's own scripts, named by the -scripts flag
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w (output in %s)", script, strings.Join(args, " "), err, s.Log.Name())
	}
	return nil
}

// StopPostgres implements Services.
func (s Scripts) StopPostgres(ctx context.Context) error {
	return s.run(ctx, "postgres.sh", "stop", s.PostgresDir, "immediate")
}

// StartPostgres implements Services.
func (s Scripts) StartPostgres(ctx context.Context) error {
	return s.run(ctx, "postgres.sh", "start", s.PostgresDir, strconv.Itoa(s.PostgresPort))
}

// KillBroker implements Services.
func (s Scripts) KillBroker(ctx context.Context, id int) error {
	return s.run(ctx, "kafka-cluster.sh", "stop-node", s.KafkaDir, strconv.Itoa(id), "kill")
}

// StartBroker implements Services.
func (s Scripts) StartBroker(ctx context.Context, id int) error {
	return s.run(ctx, "kafka-cluster.sh", "start-node", s.KafkaDir, strconv.Itoa(id))
}

// StopTemporal implements Services.
func (s Scripts) StopTemporal(ctx context.Context) error {
	return s.run(ctx, "temporal.sh", "stop", s.TemporalDir)
}

// StartTemporal implements Services.
func (s Scripts) StartTemporal(ctx context.Context) error {
	return s.run(ctx, "temporal.sh", "start", s.TemporalDir, strconv.Itoa(s.TemporalPort), strconv.Itoa(s.TemporalUIPort), "headless")
}
