package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/bench/internal/sse"
)

// user is a client's user: its id and roles, as its token says.
type user struct {
	ID    string
	Roles []string
}

// delivery is one broadcast or retract event as a client read it.
type delivery struct {
	Name      string // "broadcast" or "retract"
	Broadcast uuid.UUID
	At        time.Time
}

// streamClient is one user's tab: an SSE stream that, when its node goes
// away or the stream ends, reconnects with the last id it received as
// Last-Event-ID, to its own node or, when that does not answer, to the
// next one, as the README tells browsers to. It keeps its own log of what
// it read.
type streamClient struct {
	name  string
	user  user
	token string
	// nodes are the API nodes' base URLs; the client starts on home.
	nodes []string
	home  int

	mu         sync.Mutex
	deliveries []delivery
	lastID     string
	connects   int
	resets     int
	problems   []string // why streams ended or could not open, the first few
	caughtUp   chan struct{}
	onceUp     sync.Once
}

func newStreamClient(name string, u user, token string, nodes []string, home int) *streamClient {
	return &streamClient{name: name, user: u, token: token, nodes: nodes, home: home, caughtUp: make(chan struct{})}
}

// run keeps the stream open until ctx ends.
func (c *streamClient) run(ctx context.Context) {
	node := c.home
	for backoff := 100 * time.Millisecond; ctx.Err() == nil; {
		err := c.stream(ctx, c.nodes[node])
		if ctx.Err() != nil {
			return
		}
		c.problem(err)
		var refused *refusedError
		if !errors.As(err, &refused) || refused.status >= 500 {
			node = (node + 1) % len(c.nodes) // that node is gone: the next
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// refusedError is a stream request answered with something other than 200.
type refusedError struct{ status int }

func (e *refusedError) Error() string { return fmt.Sprintf("stream answered %d", e.status) }

// stream opens one stream on base and reads it until it ends.
func (c *streamClient) stream(ctx context.Context, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/me/stream", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	c.mu.Lock()
	if c.lastID != "" {
		req.Header.Set("Last-Event-ID", c.lastID)
	}
	c.mu.Unlock()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("open on %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &refusedError{status: resp.StatusCode}
	}
	c.mu.Lock()
	c.connects++
	c.mu.Unlock()
	var (
		p   sse.Parser
		buf [4096]byte
	)
	for {
		n, err := resp.Body.Read(buf[:])
		p.Feed(buf[:n], c.take)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("stream on %s ended", base)
			}
			return fmt.Errorf("stream on %s: %w", base, err)
		}
	}
}

// take records one event.
func (c *streamClient) take(ev sse.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.ID != "" {
		c.lastID = ev.ID
	}
	switch {
	case ev.Comment == "caught up":
		c.onceUp.Do(func() { close(c.caughtUp) })
	case ev.Name == "broadcast" || ev.Name == "retract":
		c.deliveries = append(c.deliveries, delivery{Name: ev.Name, Broadcast: ev.Broadcast, At: time.Now()})
	case ev.Name == "reset":
		c.resets++
	}
}

func (c *streamClient) problem(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) < 5 {
		c.problems = append(c.problems, time.Now().Format("15:04:05.000")+" "+err.Error())
	}
}

// view is a copy of what the client has read, for the checks.
func (c *streamClient) view() clientView {
	c.mu.Lock()
	defer c.mu.Unlock()
	return clientView{Name: c.name, User: c.user, Deliveries: slices.Clone(c.deliveries), Connects: c.connects,
		Resets: c.resets, Problems: slices.Clone(c.problems)}
}

// clientView is what one client read, as the checks see it.
type clientView struct {
	Name       string
	User       user
	Deliveries []delivery
	// Connects counts the streams it opened: 1 when it never had to
	// reconnect.
	Connects int
	Resets   int
	Problems []string
}

// hasRead reports whether the client has read broadcast id.
func (c *streamClient) hasRead(id uuid.UUID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.deliveries {
		if d.Name == "broadcast" && d.Broadcast == id {
			return true
		}
	}
	return false
}
