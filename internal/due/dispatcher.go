package due

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/retry"
	"github.com/crier/crier/internal/store"
)

// Store is what a Dispatcher needs of the broadcast store (*store.Store).
type Store interface {
	// DueBefore lists the transitions due before a time on PostgreSQL's
	// clock, overdue ones included, with that clock.
	DueBefore(ctx context.Context, before time.Time, limit int) ([]store.Due, time.Time, error)
	// ApplyDue applies op to those of ids whose time has come, guarded, and
	// returns the broadcasts it changed.
	ApplyDue(ctx context.Context, op broadcast.Operation, ids []uuid.UUID) ([]broadcast.Broadcast, error)
	// Pending returns those of ids op may still apply to, with PostgreSQL's
	// clock.
	Pending(ctx context.Context, op broadcast.Operation, ids []uuid.UUID) ([]store.Due, time.Time, error)
}

// DefaultEvery is Config.Every's default.
const DefaultEvery = 2 * time.Second

// Config configures a Dispatcher. Zero fields take the defaults.
type Config struct {
	// Every is the time between two reads of what falls due. A broadcast
	// created or moved closer than this to its time may be missed by the
	// dispatchers and is then applied by its own workflow, on time unless
	// Temporal is slow. Default 2s.
	Every time.Duration
	// Horizon is how far ahead each read looks; more than Every, so every
	// instant is loaded at least once before it comes. Default 10s.
	Horizon time.Duration
	// Limit bounds what one read loads of each transition, and so the
	// dispatcher's memory (about 100 bytes an entry). Default 100,000: ten
	// times the largest burst make bench measures.
	Limit int
	// BatchSize bounds the broadcasts one statement changes. Default 500.
	BatchSize int
	// Parallel is how many statements may run at once. Default 4.
	Parallel int
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) fill() error {
	if c.Every == 0 {
		c.Every = DefaultEvery
	}
	if c.Horizon == 0 {
		c.Horizon = 5 * c.Every
	}
	if c.Limit == 0 {
		c.Limit = 100_000
	}
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.Parallel == 0 {
		c.Parallel = 4
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.Every < 100*time.Millisecond:
		return fmt.Errorf("due dispatcher: Every %s is under 100ms", c.Every)
	case c.Horizon <= c.Every:
		return fmt.Errorf("due dispatcher: Horizon %s must exceed Every %s", c.Horizon, c.Every)
	case c.Limit < 1 || c.BatchSize < 1 || c.Parallel < 1:
		return errors.New("due dispatcher: Limit, BatchSize and Parallel must be positive")
	}
	return nil
}

// Dispatcher applies the transitions that fall due, at their instant. Run
// one per worker; any number may run against the same database.
type Dispatcher struct {
	store Store
	cfg   Config
	log   *slog.Logger
	// skew is PostgreSQL's clock minus this process's, as last measured:
	// instants are kept on PostgreSQL's clock (the guards compare with it)
	// and timed on ours.
	skew time.Duration
	q    queue
}

// New returns a Dispatcher over s.
func New(s Store, cfg Config) (*Dispatcher, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	return &Dispatcher{store: s, cfg: cfg, log: cfg.Logger.With("component", "due-dispatcher")}, nil
}

// dbNow is the current time on PostgreSQL's clock, as far as we know it.
func (d *Dispatcher) dbNow() time.Time { return time.Now().Add(d.skew) }

// Run reads and applies due transitions until ctx ends. PostgreSQL being
// unavailable only delays it: it keeps trying, and what fell due meanwhile
// is overdue on the next read and applied at once.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.log.Info("Due dispatcher started", "every", d.cfg.Every, "horizon", d.cfg.Horizon)
	read := time.NewTimer(0)
	defer read.Stop()
	next := time.NewTimer(time.Hour)
	defer next.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-read.C:
			if err := d.read(ctx); err != nil {
				failures++
				d.logFailure("read", err, failures)
				read.Reset(retry.Backoff{Max: d.cfg.Every}.Delay(failures))
			} else {
				failures = 0
				read.Reset(d.cfg.Every)
			}
		case <-next.C:
			d.applyDue(ctx)
		}
		next.Reset(d.untilNext())
	}
}

// untilNext is how long until the earliest entry falls due (an hour when
// none is loaded: a read comes first).
func (d *Dispatcher) untilNext() time.Duration {
	at, ok := d.q.earliest()
	if !ok {
		return time.Hour
	}
	return max(time.Until(at.Add(-d.skew)), 0)
}

// read replaces what the dispatcher holds with what falls due within the
// horizon: cancelled, rescheduled and completed broadcasts drop out, new
// ones come in.
func (d *Dispatcher) read(ctx context.Context) error {
	sent := time.Now()
	due, clock, err := d.store.DueBefore(ctx, d.dbNow().Add(d.cfg.Horizon), d.cfg.Limit)
	if err != nil {
		return err
	}
	// The clock was read between sending and receiving: half way is the
	// best guess of when, on ours.
	received := time.Now()
	d.skew = clock.Sub(sent.Add(received.Sub(sent) / 2))
	d.q.reset(due)
	return nil
}

// logFailure logs the nth failure in a row: the first, then every tenth, so
// an outage is visible without a line every attempt.
func (d *Dispatcher) logFailure(what string, err error, n int) {
	if n == 1 || n%10 == 0 {
		d.log.Warn("Due dispatcher could not "+what+"; retrying (what falls due meanwhile is applied once it can)",
			"error", err, "failures_in_a_row", n)
	}
}
