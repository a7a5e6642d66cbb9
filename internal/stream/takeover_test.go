package stream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/testenv"
)

// memPresence records the connections registered and not yet removed.
type memPresence struct {
	mu   sync.Mutex
	live map[uuid.UUID]string
}

func (p *memPresence) Admit(_ context.Context, c presence.Connection, _ int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live[c.ID] = c.UserID
	return nil
}

func (p *memPresence) Unregister(_ context.Context, id uuid.UUID) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.live, id)
	return nil
}

func (p *memPresence) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.live)
}

type takeOverBundle struct {
	hub      *Hub
	presence *memPresence
	server   *Server
	url      string
	// returned receives Serve's result as soon as Serve returns.
	returned chan error
}

// setupTakeOver serves streams over HTTP/1.1 as the API does: a middleware
// header, then Serve under a deadline whose cause the client is told.
func setupTakeOver(t *testing.T, deadline time.Duration, cause error) *takeOverBundle {
	t.Helper()
	pool := testenv.Pool(t)
	b := &takeOverBundle{hub: NewHub(HubConfig{}), presence: &memPresence{live: map[uuid.UUID]string{}}, returned: make(chan error, 8)}
	b.hub.start(Position{-1})
	logger := testenv.Logger(t)
	b.server = NewServer(pool, b.hub, inbox.New(pool, inbox.NewCache(pool, inbox.CacheConfig{})), b.presence, NewRecorder(pool, logger),
		Config{NodeID: "node-test", Logger: logger})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "request-1")
		ctx, cancel := WithDeadline(r.Context(), time.Now().Add(deadline), cause)
		defer cancel()
		b.returned <- b.server.Serve(ctx, w, inbox.User{ID: r.URL.Query().Get("user")}, "")
	}))
	t.Cleanup(ts.Close)
	b.url = ts.URL
	return b
}

// open starts user's stream and reads it up to ": caught up".
// open opens user's stream and reads up to its catch-up: it returns a reader
// of what follows, the answer's headers, and its body, which the test closes
// to leave (or the test's end closes).
func (b *takeOverBundle) open(t *testing.T, user string) (*bufio.Reader, http.Header, io.ReadCloser) {
	t.Helper()
	resp, err := http.Get(b.url + "/?user=" + user)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	r := bufio.NewReader(resp.Body)
	require.Equal(t, ": caught up", nextLine(t, r))
	return r, resp.Header, resp.Body
}

// nextLine returns the next line that is not blank or a heartbeat.
func nextLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		if line = strings.TrimSuffix(line, "\n"); line != "" && line != ": heartbeat" {
			return line
		}
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, func() error {
		if ok() {
			return nil
		}
		return errors.New(what)
	})
}

// Over HTTP/1.1 the stream takes its connection over: Serve returns while
// the client goes on reading the same stream, and a client that leaves is
// removed from the hub and presence.
func TestStreamTakesItsConnectionOver(t *testing.T) {
	t.Parallel()
	b := setupTakeOver(t, time.Minute, ErrLifetime)
	r, header, body := b.open(t, "alice")
	require.Equal(t, 1, b.presence.count(), "the client is answered once its stream is registered")
	require.Equal(t, "text/event-stream", header.Get("Content-Type"))
	require.Equal(t, "no-cache", header.Get("Cache-Control"))
	require.Equal(t, "no", header.Get("X-Accel-Buffering"))
	require.Equal(t, "request-1", header.Get("X-Request-Id"), "headers set before Serve go out")
	select {
	case err := <-b.returned:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return once the stream was under way")
	}

	ev := published(broadcast.Target{Type: broadcast.TargetAll})
	b.hub.Dispatch([]Event{ev})
	require.Equal(t, "id: v1:0", nextLine(t, r))
	require.Equal(t, "event: broadcast", nextLine(t, r))
	require.Equal(t, `data: {"id":"`+ev.Value.Broadcast.ID.String()+`",`, nextLine(t, r)[:len(`data: {"id":"`)+38])

	body.Close()
	eventually(t, "the stream has not left", func() bool { return b.presence.count() == 0 })
	b.hub.mu.Lock()
	defer b.hub.mu.Unlock()
	require.Empty(t, b.hub.byUser)
}

// A stream that took its connection over still ends at its token's expiry,
// telling the client why.
func TestTakenOverStreamEndsAtItsDeadline(t *testing.T) {
	t.Parallel()
	b := setupTakeOver(t, 500*time.Millisecond, ErrTokenExpired)
	r, _, _ := b.open(t, "alice")
	require.Equal(t, "event: shutdown", nextLine(t, r))
	require.Contains(t, nextLine(t, r), "retry: 1000")
	require.Contains(t, nextLine(t, r), `"reason":"token expired"`)
	rest, err := io.ReadAll(r)
	require.NoError(t, err, "the stream ends with its connection")
	require.Equal(t, "\n", string(rest))
}

// Close tells every stream that the node stops and waits until they have
// left; a stream opened afterwards is told at once.
func TestCloseEndsStreamsAndWaitsForThem(t *testing.T) {
	t.Parallel()
	b := setupTakeOver(t, time.Minute, ErrLifetime)
	alice, _, _ := b.open(t, "alice")
	bob, _, _ := b.open(t, "bob")

	b.server.Close()
	require.Zero(t, b.presence.count(), "Close returns once every stream has left")
	for _, r := range []*bufio.Reader{alice, bob} {
		require.Equal(t, "event: shutdown", nextLine(t, r))
	}
	late, _, _ := b.open(t, "carol")
	require.Equal(t, "event: shutdown", nextLine(t, late))
}
