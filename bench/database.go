package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CreateDatabase creates database name on the server of serverURL (any
// database URL on that server), migrates it with `crier migrate` (the
// product's own command, so the bench holds no copy of the schema) and
// returns its URL. Each system gets its own database, so the outbox relays
// of two systems never see each other's events.
func CreateDatabase(ctx context.Context, crierBinary, serverURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer closeConn(ctx, conn)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil &&
		!strings.Contains(err.Error(), "already exists") {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	dbURL, err := WithDatabase(serverURL, name)
	if err != nil {
		return "", err
	}
	migrate := exec.CommandContext(ctx, crierBinary, "migrate")
	migrate.Env = append(os.Environ(), "CRIER_ENV=development", "CRIER_ENV_FILE="+os.DevNull, "DATABASE_URL="+dbURL,
		"CRIER_LOG_LEVEL=warn", "OTEL_SDK_DISABLED=true")
	if out, err := migrate.CombinedOutput(); err != nil {
		return "", fmt.Errorf("migrate database %s with %s migrate: %w\n%s", name, crierBinary, err, out)
	}
	return dbURL, nil
}

// WithDatabase returns dbURL naming database name instead of its own.
func WithDatabase(dbURL, name string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// WithPoolSize returns dbURL asking pgxpool for up to n connections.
func WithPoolSize(dbURL string, n int) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	q := u.Query()
	q.Set("pool_max_conns", fmt.Sprint(n))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// closeConn closes a connection whose work is done or abandoned. An error
// closing it changes no result: the server ends the session either way.
func closeConn(ctx context.Context, conn *pgx.Conn) {
	_ = conn.Close(ctx)
}
