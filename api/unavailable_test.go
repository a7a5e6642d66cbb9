package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/outage"
	"github.com/crier/crier/internal/stream"
	"github.com/crier/crier/workflows"
)

// downStore fails every read with err, as the store does while its
// dependency is down.
type downStore struct {
	api.Store
	err error
}

func (s downStore) Get(context.Context, uuid.UUID) (broadcast.Broadcast, error) {
	return broadcast.Broadcast{}, fmt.Errorf("read broadcast: %w", s.err)
}

// downStreams fails every stream's start with err.
type downStreams struct{ err error }

func (s downStreams) Serve(context.Context, http.ResponseWriter, inbox.User, string) error {
	return s.err
}

// lockedBuffer is a log sink the handler writes from its own goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines(substr string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for line := range strings.Lines(b.buf.String()) {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// Each way a dependency can be down, as the errors reach the API, is one
// answer: 503, Retry-After, a problem naming the dependency (and nothing of
// the cause), and one log line with the cause and the request id. Any
// other error stays a 500.
func TestDependencyDownIsA503NamingIt(t *testing.T) {
	t.Parallel()
	pgDown := map[string]error{
		"connection refused":  &pgconn.PgError{Severity: "FATAL", Code: "08006", Message: "connection failure"},
		"admin shutdown":      &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"},
		"cannot connect now":  &pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"},
		"connection cut":      io.ErrUnexpectedEOF,
		"connection closed":   pgconn.ErrConnClosed,
		"declared by a store": outage.ErrPostgreSQL,
	}
	for name, cause := range pgDown {
		t.Run("PostgreSQL: "+name, func(t *testing.T) {
			t.Parallel()
			requireUnavailable(t, downStore{err: cause}, nil, "/api/v1/broadcasts/"+uuid.NewString(), "PostgreSQL")
		})
	}
	t.Run("Temporal", func(t *testing.T) {
		t.Parallel()
		requireUnavailable(t, downStore{err: fmt.Errorf("%w: dial tcp: connection refused", workflows.ErrUnavailable)}, nil,
			"/api/v1/broadcasts/"+uuid.NewString(), "Temporal")
	})
	t.Run("Kafka, for a stream whose node has not started its tail", func(t *testing.T) {
		t.Parallel()
		requireUnavailable(t, downStore{}, downStreams{err: stream.ErrNotReady}, "/api/v1/me/stream", "Kafka")
	})
	t.Run("PostgreSQL, for a stream", func(t *testing.T) {
		t.Parallel()
		requireUnavailable(t, downStore{}, downStreams{err: fmt.Errorf("admit stream: %w", io.ErrUnexpectedEOF)}, "/api/v1/me/stream", "PostgreSQL")
	})
	t.Run("anything else stays a 500", func(t *testing.T) {
		t.Parallel()
		for _, cause := range []error{&pgconn.PgError{Code: "23505"}, errors.New("connection refused"), context.Canceled} {
			e, _, token := unavailableAPI(t, downStore{err: cause}, nil)
			rec := request(e, http.MethodGet, "/api/v1/broadcasts/"+uuid.NewString(), token)
			require.Equal(t, http.StatusInternalServerError, rec.Code, "%v: %s", cause, rec.Body)
			require.Empty(t, rec.Header().Get("Retry-After"))
		}
	})
}

func unavailableAPI(t *testing.T, st api.Store, streams api.Streams) (http.Handler, *lockedBuffer, string) {
	t.Helper()
	secret := []byte("unavailable-test-secret-0123456789")
	logs := &lockedBuffer{}
	if streams == nil {
		streams = stubStreams{}
	}
	e := api.New(st, nil, api.Config{
		Verifier: auth.NewVerifier(secret),
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
		Users:    api.UserConfig{Inbox: stubInbox{}, Streams: streams, Tickets: stubTickets{}},
	})
	token, err := auth.Issue(secret, "root", "Root", []string{auth.RoleAdmin}, time.Hour, time.Now())
	require.NoError(t, err)
	return e, logs, token
}

func requireUnavailable(t *testing.T, st api.Store, streams api.Streams, path, dependency string) {
	t.Helper()
	e, logs, token := unavailableAPI(t, st, streams)
	rec := request(e, http.MethodGet, path, token)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	require.Equal(t, "5", rec.Header().Get("Retry-After"))
	var p api.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, dependency, p.Dependency)
	require.Equal(t, dependency+" is unavailable, so nothing was changed; retry in 5 s", p.Detail)
	logged := logs.lines(p.RequestID)
	var causes []string
	for _, line := range logged {
		if strings.Contains(line, "A dependency is unavailable") {
			causes = append(causes, line)
		}
	}
	require.Len(t, causes, 1, "the cause is logged once: %v", logged)
	require.Contains(t, causes[0], "dependency="+dependency)
}
