package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// sseEvent is one event read from a stream.
type sseEvent struct {
	ID, Event, Data string
	At              time.Time
}

// broadcastID is the "id" field of the event's JSON data.
func (e sseEvent) broadcastID(t *testing.T) uuid.UUID {
	var v struct {
		ID uuid.UUID `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.Data), &v), "data: %s", e.Data)
	return v.ID
}

// sseClient is a real HTTP client reading a user's event stream, as a
// browser's EventSource would.
type sseClient struct {
	name   string
	events chan sseEvent
	status int
	cancel context.CancelFunc
	lastID string
}

// openTicketStream opens a stream with a ticket URL, as a browser's
// EventSource would: no Authorization header.
func openTicketStream(t *testing.T, name, url string) *sseClient {
	t.Helper()
	return open(t, t, name, url, "", "")
}

// openStream connects to baseURL's stream with token, resuming after
// lastEventID when it is not empty. The stream is closed when owner ends, so
// a test can keep streams open across its subtests.
func openStream(t, owner *testing.T, name, baseURL, token, lastEventID string) *sseClient {
	t.Helper()
	return open(t, owner, name, baseURL+"/api/v1/me/stream", token, lastEventID)
}

func open(t, owner *testing.T, name, url, token, lastEventID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	c := &sseClient{name: name, events: make(chan sseEvent, 256), status: resp.StatusCode, cancel: cancel, lastID: lastEventID}
	owner.Cleanup(c.close)
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		close(c.events)
		return c
	}
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	go c.read(resp.Body)
	return c
}

// read parses the stream into c.events until it ends, then closes both.
func (c *sseClient) read(body io.ReadCloser) {
	defer body.Close()
	defer close(c.events)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Event != "" {
				ev.At = time.Now()
				c.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"): // comment: heartbeat or marker
		case strings.HasPrefix(line, "id: "):
			ev.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func (c *sseClient) close() { c.cancel() }

// next returns the next event, failing the test after 20 s.
func (c *sseClient) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-c.events:
		require.True(t, ok, "%s: stream ended", c.name)
		if ev.ID != "" {
			c.lastID = ev.ID
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no event within 20 s", c.name)
		return sseEvent{}
	}
}

// expect reads the next event and checks its type and broadcast.
func (c *sseClient) expect(t *testing.T, event string, id uuid.UUID) sseEvent {
	t.Helper()
	ev := c.next(t)
	require.Equal(t, event, ev.Event, "%s: data %s", c.name, ev.Data)
	require.Equal(t, id, ev.broadcastID(t), "%s: %s event for another broadcast", c.name, event)
	return ev
}

// ended waits for the stream to end and returns its last event, if any.
func (c *sseClient) ended(t *testing.T) (last sseEvent) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return last
			}
			last = ev
		case <-timeout:
			t.Fatalf("%s: stream did not end", c.name)
		}
	}
}
