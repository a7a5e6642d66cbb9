package stream

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pruneBatch bounds the rows one statement of a prune deletes, so a large
// backlog (the first prune of a log never pruned) holds its locks briefly.
const pruneBatch = 5000

// pruneSQL deletes at most $2 events older than $1 µs and records, per
// partition, the newest offset deleted, in one statement: a replay that
// sees the rows gone sees the mark too. SKIP LOCKED lets every API node
// prune at once without waiting on each other.
const pruneSQL = `
WITH doomed AS (
	SELECT kafka_partition, kafka_offset FROM stream_events
	WHERE occurred_at < now() - $1 * interval '1 microsecond'
	ORDER BY occurred_at
	LIMIT $2
	FOR UPDATE SKIP LOCKED
), deleted AS (
	DELETE FROM stream_events e USING doomed d
	WHERE e.kafka_partition = d.kafka_partition AND e.kafka_offset = d.kafka_offset
	RETURNING e.kafka_partition, e.kafka_offset
), marked AS (
	INSERT INTO stream_events_pruned (kafka_partition, through_offset)
	SELECT kafka_partition, max(kafka_offset) FROM deleted GROUP BY kafka_partition
	ON CONFLICT (kafka_partition) DO UPDATE
		SET through_offset = GREATEST(stream_events_pruned.through_offset, excluded.through_offset)
)
SELECT count(*) FROM deleted`

// Pruner deletes events older than the replay window from stream_events,
// which otherwise grows with every event forever. Every API node runs one:
// the log is shared, and deleting is idempotent.
type Pruner struct {
	pool     *pgxpool.Pool
	window   time.Duration
	interval time.Duration
	log      *slog.Logger
}

// PrunerConfig configures a Pruner.
type PrunerConfig struct {
	// Window is how long events are kept: the Server's ReplayWindow.
	// Default DefaultReplayWindow; never zero, which would delete the whole
	// log.
	Window time.Duration
	// Interval between prunes. Default 10m: the log holds at most that
	// much past the window.
	Interval time.Duration
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// NewPruner returns a pruner of the stream log in pool.
func NewPruner(pool *pgxpool.Pool, cfg PrunerConfig) *Pruner {
	if cfg.Window <= 0 {
		cfg.Window = DefaultReplayWindow
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Pruner{pool: pool, window: cfg.Window, interval: cfg.Interval, log: cfg.Logger.With("component", "stream-pruner")}
}

// Run prunes at once, then every interval until ctx ends. A failed prune is
// logged; the next one deletes what it left.
func (p *Pruner) Run(ctx context.Context) {
	log := p.log
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		n, err := p.Prune(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("Pruning the stream log failed; retrying at the next interval", "deleted", n, "error", err)
		case n > 0:
			log.Info("Pruned the stream log", "deleted", n, "window", p.window)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Prune deletes the events older than the window, in batches until none is
// left, and returns how many it deleted.
func (p *Pruner) Prune(ctx context.Context) (int64, error) {
	var deleted int64
	for {
		var n int64
		if err := p.pool.QueryRow(ctx, pruneSQL, p.window.Microseconds(), pruneBatch).Scan(&n); err != nil {
			return deleted, fmt.Errorf("prune stream events older than %s: %w", p.window, err)
		}
		deleted += n
		if n < pruneBatch {
			return deleted, nil
		}
	}
}
