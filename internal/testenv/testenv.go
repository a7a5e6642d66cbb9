package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crier/crier/migrations"
)

func need(t testing.TB, variable, service string) string {
	t.Helper()
	v := os.Getenv(variable)
	if v != "" {
		return v
	}
	msg := fmt.Sprintf("%s is not set: this test needs a real %s (run `make test`, which starts it)", variable, service)
	if os.Getenv("CRIER_TEST_SERVICES") == "required" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// closeConn closes a connection DatabaseURL is done with. A failure is
// logged: the database's work is done, so it changes no test's result.
func closeConn(ctx context.Context, t testing.TB, conn *pgx.Conn) {
	t.Helper()
	if err := conn.Close(ctx); err != nil {
		t.Logf("close the connection to PostgreSQL: %v", err)
	}
}

// DatabaseURL returns a fresh, migrated database of its own for the test,
// dropped when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	base := need(t, "DATABASE_URL", "PostgreSQL")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to PostgreSQL at DATABASE_URL: %v", err)
	}
	defer closeConn(context.Background(), t, admin)
	name := "crier_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer closeConn(ctx, t, conn)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	if _, err := migrations.Up(u.String(), Logger(t)); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return u.String()
}

// Pool returns a pool on a fresh database (see DatabaseURL), closed when the
// test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), DatabaseURL(t))
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// KafkaBrokers returns the bootstrap addresses of the test Kafka.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	return strings.Split(need(t, "KAFKA_BROKERS", "Kafka broker"), ",")
}

// KafkaSCRAM is the test broker's SCRAM listener (SASL_PLAINTEXT, SCRAM-SHA-512
// and -256, ACLs enforced) and its two users, as scripts/kafka.sh made them.
type KafkaSCRAM struct {
	// Brokers are the listener's bootstrap addresses.
	Brokers []string
	// Crier may create, write and read every topic and consumer group.
	Crier SCRAMUser
	// Reader may read and describe topics and groups, but not write.
	Reader SCRAMUser
}

// SCRAMUser is one SCRAM principal of the test broker.
type SCRAMUser struct{ Username, Password string }

// KafkaSCRAMListener returns the test Kafka's SCRAM listener and users.
func KafkaSCRAMListener(t testing.TB) KafkaSCRAM {
	t.Helper()
	const service = "Kafka broker with a SCRAM listener"
	return KafkaSCRAM{
		Brokers: strings.Split(need(t, "KAFKA_SCRAM_BROKERS", service), ","),
		Crier:   SCRAMUser{need(t, "KAFKA_SCRAM_CRIER_USER", service), need(t, "KAFKA_SCRAM_CRIER_PASSWORD", service)},
		Reader:  SCRAMUser{need(t, "KAFKA_SCRAM_READER_USER", service), need(t, "KAFKA_SCRAM_READER_PASSWORD", service)},
	}
}

// TemporalAddress returns the test Temporal frontend's address.
func TemporalAddress(t testing.TB) string {
	t.Helper()
	return need(t, "TEMPORAL_ADDRESS", "Temporal server")
}

// Name returns a name unique to this test run, for topics, task queues and
// consumer groups, so parallel tests never share them.
func Name(prefix string) string {
	return prefix + "-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
}

// Logger returns a logger writing to the test log (shown on failure or -v).
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testWriter{}

// Eventually calls check every 50 ms until it returns nil or timeout passes,
// then fails the test with check's last error. Tests wait with it instead of
// sleeping.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not true after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
