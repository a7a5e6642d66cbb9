package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/stream"
)

// Table names a table the maintenance run prunes. The names are the
// tables' own, and the values of the table label of Crier's retention
// metrics: a fixed set.
type Table string

// The tables with a horizon.
const (
	// Outbox: events written to Kafka (published_at) longer ago than the
	// horizon (CRIER_RETAIN_OUTBOX).
	Outbox Table = "outbox"
	// ProcessedEvents: events the audience consumer applied longer ago than
	// the horizon (CRIER_RETAIN_PROCESSED_EVENTS), which must outlast any
	// redelivery Kafka can still make.
	ProcessedEvents Table = "processed_events"
	// Deliveries: per-user rows of broadcasts that ended (expired or
	// cancelled) longer ago than the horizon (CRIER_RETAIN_DELIVERIES).
	Deliveries Table = "deliveries"
	// StreamEvents: the stream log past the replay window
	// (CRIER_SSE_REPLAY_WINDOW), with stream.PruneLog's marks.
	StreamEvents Table = "stream_events"
)

// Tables lists every table in the order a maintenance run prunes them.
var Tables = []Table{Outbox, ProcessedEvents, Deliveries, StreamEvents}

// ErrUnknownTable means a table not in Tables was named.
var ErrUnknownTable = errors.New("no retention for this table")

// Defaults of Config.
const (
	// DefaultBatchSize bounds the rows one statement deletes: 10,000 took
	// 46 ms (outbox) to 260 ms (deliveries; 1.8 s read cold from disk) a
	// statement on a busy 2-core machine, short enough for its locks and
	// WAL to go unnoticed.
	DefaultBatchSize = 10_000
	// DefaultMaxBatches bounds the statements of one run per table, so a run
	// on a large backlog (the first one after an upgrade) ends within its
	// activity's timeout and leaves the rest to the next run, a minute
	// later: 100,000 rows a table a minute.
	DefaultMaxBatches = 10
)

// Config configures a Pruner. Zero fields take the documented defaults.
type Config struct {
	// BatchSize is the most rows one statement deletes. Default
	// DefaultBatchSize.
	BatchSize int
	// MaxBatches is the most statements one Prune runs. Default
	// DefaultMaxBatches.
	MaxBatches int
}

// Pruner deletes rows past their horizon from one database.
type Pruner struct {
	pool *pgxpool.Pool
	cfg  Config
}

// New returns a Pruner of pool's tables.
func New(pool *pgxpool.Pool, cfg Config) (*Pruner, error) {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MaxBatches == 0 {
		cfg.MaxBatches = DefaultMaxBatches
	}
	if pool == nil || cfg.BatchSize < 0 || cfg.MaxBatches < 0 {
		return nil, fmt.Errorf("retention: a pool and positive bounds are required (batch size %d, max batches %d)", cfg.BatchSize, cfg.MaxBatches)
	}
	return &Pruner{pool: pool, cfg: cfg}, nil
}

// Result is what one Prune of a table did.
type Result struct {
	// Deleted counts the rows deleted.
	Deleted int64
	// More is true when the run stopped at its bound with rows past the
	// horizon possibly left: the next run goes on.
	More bool
}

// Prune deletes table's rows older than horizon in batches, until a batch
// finds fewer rows than it may delete or MaxBatches have run. Each batch
// commits on its own, so an error (PostgreSQL gone) keeps what earlier
// batches deleted, and Result counts them. horizon must be positive.
func (p *Pruner) Prune(ctx context.Context, table Table, horizon time.Duration) (Result, error) {
	batch, err := p.batchOf(table)
	if err != nil {
		return Result{}, err
	}
	if horizon <= 0 {
		return Result{}, fmt.Errorf("prune %s: horizon %s must be positive", table, horizon)
	}
	var res Result
	for range p.cfg.MaxBatches {
		n, err := batch(ctx, horizon)
		res.Deleted += n
		if err != nil {
			return res, fmt.Errorf("prune %s older than %s (%d deleted so far): %w", table, horizon, res.Deleted, err)
		}
		if n < int64(p.cfg.BatchSize) {
			return res, nil
		}
	}
	res.More = true
	return res, nil
}

// batchFunc deletes one batch of rows older than horizon.
type batchFunc func(ctx context.Context, horizon time.Duration) (int64, error)

func (p *Pruner) batchOf(table Table) (batchFunc, error) {
	limit := p.cfg.BatchSize
	query := func(sql string, args ...any) batchFunc {
		return func(ctx context.Context, horizon time.Duration) (int64, error) {
			var n int64
			err := p.pool.QueryRow(ctx, sql, append([]any{horizon.Microseconds(), limit}, args...)...).Scan(&n)
			return n, err
		}
	}
	switch table {
	case Outbox:
		return query(sqlOutbox), nil
	case ProcessedEvents:
		return query(sqlProcessedEvents), nil
	case Deliveries:
		return query(sqlDeliveries, endedStatuses()), nil
	case StreamEvents:
		return func(ctx context.Context, horizon time.Duration) (int64, error) {
			return stream.PruneLog(ctx, p.pool, horizon, limit)
		}, nil
	}
	return nil, fmt.Errorf("prune %q: %w", table, ErrUnknownTable)
}

// endedStatuses are the statuses no transition leaves (broadcast.Transitions):
// a broadcast in one of them has ended, and its deliveries change no more.
func endedStatuses() []string {
	var ended []string
	for _, s := range broadcast.Statuses {
		if s.Terminal() {
			ended = append(ended, string(s))
		}
	}
	return ended
}
