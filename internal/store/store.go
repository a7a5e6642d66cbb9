package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crier/crier/internal/broadcast"
)

// ErrNotFound means no broadcast has the given id.
var ErrNotFound = errors.New("broadcast not found")

// ErrIdempotencyMismatch means an Idempotency-Key was reused with a request
// different from the one that first used it.
var ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")

// Store reads and changes broadcasts.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Pool is the connection pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// DefaultMaxConns is the pool size unless DATABASE_URL sets pool_max_conns.
// pgx's own default (max(4, CPUs)) starves a worker whose hundreds of local
// activities publish a burst of due broadcasts at once.
const DefaultMaxConns = 20

// DefaultConnectTimeout bounds making a connection unless DATABASE_URL's
// connect_timeout says otherwise. pgx has none: a PostgreSQL cut off by the
// network (packets dropped, not refused) would hold each request for the
// kernel's connect timeout (minutes) instead of answering 503.
const DefaultConnectTimeout = 5 * time.Second

// Connect opens a pool on databaseURL and checks that it answers. The pool
// holds DefaultMaxConns connections unless the URL's pool_max_conns says
// otherwise, and gives up connecting after DefaultConnectTimeout unless its
// connect_timeout does.
func Connect(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("reach PostgreSQL at %s: %w", cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// querier is what both a pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// columns is the broadcast row as scanBroadcast reads it; every statement
// that returns a broadcast returns exactly these.
const columns = `id, status, sender_id, sender_name, title, content, category, priority,
	target_type, target_ids, scheduled_at, expires_at, created_at, updated_at,
	published_at, expired_at, cancelled_at, failure_reason, workflow_id, series_id, occurrence_at, delivery_window,
	local_time, default_time_zone, waves, waves_sent`

// Columns lists the broadcast columns that Scan reads, in order, for other
// packages that query broadcasts.
const Columns = columns

// Scan reads a broadcast from a row that selected Columns.
func Scan(row pgx.Row) (broadcast.Broadcast, error) { return scanBroadcast(row) }

func scanBroadcast(row pgx.Row) (broadcast.Broadcast, error) {
	var (
		b       broadcast.Broadcast
		failure *string
		local   *time.Time
	)
	err := row.Scan(&b.ID, &b.Status, &b.Sender.ID, &b.Sender.Name, &b.Title, &b.Content, &b.Category, &b.Priority,
		&b.Target.Type, &b.Target.IDs, &b.ScheduledAt, &b.ExpiresAt, &b.CreatedAt, &b.UpdatedAt,
		&b.PublishedAt, &b.ExpiredAt, &b.CancelledAt, &failure, &b.WorkflowID, &b.SeriesID, &b.OccurrenceAt, &b.DeliveryWindow,
		&local, &b.DefaultTimeZone, &b.Waves, &b.WavesSent)
	if err != nil {
		return b, err
	}
	if failure != nil {
		b.FailureReason = *failure
	}
	if local != nil {
		l := broadcast.LocalTimeOf(*local)
		b.LocalTime = &l
	}
	normalizeTimes(&b)
	return b, nil
}

// normalizeTimes puts every time in UTC, so API answers and events read alike
// whatever the session time zone.
func normalizeTimes(b *broadcast.Broadcast) {
	b.CreatedAt = b.CreatedAt.UTC()
	b.UpdatedAt = b.UpdatedAt.UTC()
	for _, t := range []**time.Time{&b.ScheduledAt, &b.ExpiresAt, &b.PublishedAt, &b.ExpiredAt, &b.CancelledAt, &b.OccurrenceAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	if b.Target.IDs == nil {
		b.Target.IDs = []string{}
	}
}

// Get returns the broadcast with the given id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (broadcast.Broadcast, error) {
	return get(ctx, s.pool, id)
}

func get(ctx context.Context, q querier, id uuid.UUID) (broadcast.Broadcast, error) {
	b, err := scanBroadcast(q.QueryRow(ctx, `SELECT `+columns+` FROM broadcasts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return b, ErrNotFound
	}
	if err != nil {
		return b, fmt.Errorf("read broadcast %s: %w", id, err)
	}
	return b, nil
}

// getForUpdate is get, locking the row until the transaction ends: the
// broadcast as it stands before a change that tx makes.
func getForUpdate(ctx context.Context, tx pgx.Tx, id uuid.UUID) (broadcast.Broadcast, error) {
	b, err := scanBroadcast(tx.QueryRow(ctx, `SELECT `+columns+` FROM broadcasts WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return b, ErrNotFound
	}
	if err != nil {
		return b, fmt.Errorf("read broadcast %s: %w", id, err)
	}
	return b, nil
}

// lockBroadcast takes the transaction-scoped advisory lock that serialises a
// broadcast's creation with the first change made to it. See Insert.
func lockBroadcast(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))`, id)
	if err != nil {
		return fmt.Errorf("lock broadcast %s: %w", id, err)
	}
	return nil
}

// waitForCreator blocks until a transaction creating id, if one is running,
// has committed or rolled back.
func (s *Store) waitForCreator(ctx context.Context, id uuid.UUID) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return lockBroadcast(ctx, tx, id)
	})
}
