package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // the pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
)

//go:embed *.sql
var files embed.FS

// Up applies every migration not yet applied to the database at databaseURL
// (a postgres:// URL) and reports the resulting version.
func Up(databaseURL string, logger *slog.Logger) (uint, error) {
	m, err := open(databaseURL)
	if err != nil {
		return 0, err
	}
	defer func() {
		if serr, dberr := m.Close(); serr != nil || dberr != nil {
			logger.Warn("Closing the migration source or database connection failed", "source_error", serr, "database_error", dberr)
		}
	}()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("apply migrations: %w", err)
	}
	version, dirty, err := m.Version()
	if err != nil {
		return 0, fmt.Errorf("read migration version: %w", err)
	}
	if dirty {
		return version, fmt.Errorf("migration %d is marked dirty: a previous run failed part way; fix the schema by hand, then force the version with the migrate CLI", version)
	}
	logger.Info("database schema is current", "version", version)
	return version, nil
}

// Latest is the version of the newest embedded migration.
func Latest() (uint, error) {
	src, err := iofs.New(files, ".")
	if err != nil {
		return 0, err
	}
	defer func() { _ = src.Close() }() // embedded files: nothing to release
	v, err := src.First()
	for err == nil {
		next, nerr := src.Next(v)
		if nerr != nil {
			break
		}
		v = next
	}
	return v, err
}

func open(databaseURL string) (*migrate.Migrate, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	u.Scheme = "pgx5"
	src, err := iofs.New(files, ".")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, u.String())
	if err != nil {
		return nil, fmt.Errorf("connect for migrations: %w", err)
	}
	return m, nil
}

// Querier runs one query; a pgx pool, connection or transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Check reports whether the database has every embedded migration applied
// and none failed part way. It is cheap enough for a readiness probe: one
// query.
func Check(ctx context.Context, db Querier) error {
	var (
		version int64
		dirty   bool
	)
	if err := db.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&version, &dirty); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	latest, err := Latest()
	if err != nil {
		return err
	}
	switch {
	case dirty:
		return fmt.Errorf("migration %d failed part way", version)
	case version < 0 || uint(version) < latest:
		return fmt.Errorf("schema at version %d, this build needs %d: run crier migrate", version, latest)
	}
	return nil
}
