package stream

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/outage"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/testenv"
)

// Issue 10: the per-user limit was a count, then a registration, so
// concurrent opens all counted the same streams and all got in. Through
// Serve, over HTTP and real presence, 20 opens at once of one user leave
// exactly MaxPerUser open; the others are refused before any byte (the API
// answers them 429).
func TestServeHoldsThePerUserLimitUnderConcurrentOpens(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	hub := NewHub(HubConfig{})
	hub.start(Position{-1})
	logger := testenv.Logger(t)
	server := NewServer(pool, hub, inbox.New(pool, inbox.NewCache(pool, inbox.CacheConfig{})), presence.New(pool), NewRecorder(pool, logger),
		Config{NodeID: "node-test", MaxPerUser: 5, Logger: logger})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := server.Serve(r.Context(), w, inbox.User{ID: "mallory"}, ""); errors.Is(err, ErrTooManyConnections) {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	t.Cleanup(ts.Close)

	const opens = 20
	statusCodes := make(chan int, opens)
	failures := make(chan error, opens)
	start := make(chan struct{})
	for range opens {
		go func() {
			<-start
			resp, err := http.Get(ts.URL)
			if err != nil {
				failures <- err
				return
			}
			// An admitted stream holds its place until the test ends.
			t.Cleanup(func() { resp.Body.Close() })
			statusCodes <- resp.StatusCode
		}()
	}
	close(start)
	statuses := map[int]int{}
	for range opens {
		select {
		case err := <-failures:
			require.NoError(t, err)
		case code := <-statusCodes:
			statuses[code]++
		}
	}
	require.Equal(t, map[int]int{http.StatusOK: 5, http.StatusTooManyRequests: 15}, statuses)
	var rows int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM connections WHERE user_id = 'mallory'`).Scan(&rows))
	require.Equal(t, 5, rows)
}

// A node whose tail has not started (Kafka unreachable, the topic not made
// yet) refuses a new stream with ErrNotReady after ReadyWait, before any
// byte, and frees the place presence gave it. PostgreSQL unreachable
// refuses it at admission, before any wait.
func TestServeRefusesBeforeWritingWhenItCannotStart(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	logger := testenv.Logger(t)
	server := NewServer(pool, NewHub(HubConfig{}), inbox.New(pool, inbox.NewCache(pool, inbox.CacheConfig{})), presence.New(pool),
		NewRecorder(pool, logger), Config{NodeID: "node-test", ReadyWait: 50 * time.Millisecond, Logger: logger})

	rec := httptest.NewRecorder()
	err := server.Serve(t.Context(), rec, inbox.User{ID: "alice"}, "")
	require.ErrorIs(t, err, ErrNotReady)
	require.False(t, rec.Flushed)
	require.Empty(t, rec.Header().Get("Content-Type"), "nothing written: the caller answers")
	var rows int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM connections WHERE user_id = 'alice'`).Scan(&rows))
	require.Zero(t, rows, "the stream left presence")

	url, proxy := testenv.ProxyDatabaseURL(t, testenv.DatabaseURL(t))
	cut, err := pgxpool.New(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(cut.Close)
	proxy.Cut()
	server = NewServer(cut, NewHub(HubConfig{}), inbox.New(cut, inbox.NewCache(cut, inbox.CacheConfig{})), presence.New(cut),
		NewRecorder(cut, logger), Config{NodeID: "node-test", ReadyWait: time.Hour, Logger: logger})
	rec = httptest.NewRecorder()
	err = server.Serve(t.Context(), rec, inbox.User{ID: "alice"}, "")
	require.True(t, outage.PostgreSQL(err), "got %v", err)
	require.Empty(t, rec.Header().Get("Content-Type"))
}
