package audience

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crier/crier/internal/cursor"
)

// ErrNotFound means no user or broadcast has the given id.
var ErrNotFound = errors.New("not found")

// ErrBadCursor means a paging cursor was not one this package produced.
var ErrBadCursor = cursor.ErrBad

// Config configures an Audience. Zero fields take the documented defaults.
type Config struct {
	// CacheSize is how many users Learn remembers per process, so a user it
	// already knows unchanged costs no SQL. Default 100,000 (a few MiB).
	CacheSize int
}

// Audience is the user directory and the statistics of broadcasts: one
// value, shared by every request of a process, so Learn's cache is shared
// too.
type Audience struct {
	pool    *pgxpool.Pool
	learned *lruCache
}

// New returns an Audience on pool.
func New(pool *pgxpool.Pool, cfg Config) (*Audience, error) {
	if pool == nil {
		return nil, errors.New("audience: no PostgreSQL pool")
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 100_000
	}
	return &Audience{pool: pool, learned: newLRUCache(cfg.CacheSize)}, nil
}

// querier is what both a pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
