package outage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/outage"
	"github.com/crier/crier/internal/testenv"
)

// The errors pgx gives when PostgreSQL is really down, cut off or shutting
// a session down are an outage; its answers about the request are not.
func TestPostgreSQLTellsOutagesFromRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, proxy := testenv.ProxyDatabaseURL(t, testenv.DatabaseURL(t))
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, pool.Ping(ctx))

	_, err = pool.Exec(ctx, `CREATE TABLE once (id int PRIMARY KEY); INSERT INTO once VALUES (1)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO once VALUES (1)`)
	require.False(t, outage.PostgreSQL(err), "a unique violation is the request's fault: %v", err)
	_, err = pool.Exec(ctx, `SELEC 1`)
	require.False(t, outage.PostgreSQL(err), "a syntax error: %v", err)

	// The client leaves while its statement runs.
	admin := testenv.Pool(t)
	cancelled, cancel := context.WithCancel(ctx)
	defer cancel()
	left := make(chan error, 1)
	go func() {
		_, err := pool.Exec(cancelled, `SELECT pg_sleep(10) AS crier_outage_test`)
		left <- err
	}()
	testenv.Eventually(t, 10*time.Second, func() error {
		var running bool
		err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE query LIKE '%AS crier_outage_test' AND state = 'active' AND pid <> pg_backend_pid())`).Scan(&running)
		if err == nil && !running {
			err = errors.New("the statement is not running yet")
		}
		return err
	})
	cancel()
	err = <-left
	require.Error(t, err)
	require.False(t, outage.PostgreSQL(err), "the client left: %v", err)

	// A session the server ends (pg_terminate_backend: SQLSTATE 57P01).
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	var pid int
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	_, err = admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `SELECT 1`)
	conn.Release()
	require.True(t, outage.PostgreSQL(err), "a terminated session: %v", err)

	// The network cut under a statement, then no connection at all.
	held, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer held.Release()
	proxy.Cut()
	_, err = held.Exec(ctx, `SELECT 1`)
	require.True(t, outage.PostgreSQL(err), "a connection cut under a statement: %v", err)
	_, err = pool.Exec(ctx, `SELECT 1`)
	require.True(t, outage.PostgreSQL(err), "no connection can be made: %v", err)
	var connectErr *pgconn.ConnectError
	require.ErrorAs(t, err, &connectErr)

	proxy.Restore()
	testenv.Eventually(t, 10*time.Second, func() error { return pool.Ping(ctx) })
}

func TestPostgreSQLReadsTheSQLState(t *testing.T) {
	t.Parallel()
	for code, down := range map[string]bool{
		"08006": true, "08001": true, "57P01": true, "57P02": true, "57P03": true,
		"23505": false, "22001": false, "40001": false, "53100": false, "57014": false,
	} {
		err := fmt.Errorf("read broadcast: %w", &pgconn.PgError{Code: code})
		require.Equal(t, down, outage.PostgreSQL(err), "SQLSTATE %s", code)
	}
}

func TestPostgreSQLLeavesOtherErrorsAlone(t *testing.T) {
	t.Parallel()
	require.False(t, outage.PostgreSQL(nil))
	require.False(t, outage.PostgreSQL(pgx.ErrNoRows))
	require.False(t, outage.PostgreSQL(fmt.Errorf("read: %w", context.Canceled)), "the client left")
	require.True(t, outage.PostgreSQL(fmt.Errorf("list broadcasts: %w", io.ErrUnexpectedEOF)), "a connection cut short, as pgx returns it")
	require.False(t, outage.PostgreSQL(errors.New("connection refused")), "words are not an outage")
	require.True(t, outage.PostgreSQL(fmt.Errorf("load: %w", outage.ErrPostgreSQL)), "the sentinel, wrapped")
}
