package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/bench/internal/sse"
)

// sseClient is one of the fan-out's many stream clients, kept lean because
// 10,000 of them share the machine with the server: a raw TCP connection, a
// hand-written HTTP/1.1 request, a 1 KiB read buffer and one goroutine that
// notes when each broadcast arrives and keeps nothing else.
type sseClient struct {
	conn net.Conn
	// caughtUp is closed when the server has sent ": caught up", i.e. the
	// stream is registered with the node's hub and will get live events.
	caughtUp chan struct{}
	done     chan struct{} // closed when the reading goroutine has returned
	err      error         // why reading stopped; read after done

	mu       sync.Mutex
	arrivals []arrival
}

// arrival is a broadcast event as read by one client.
type arrival struct {
	id uuid.UUID
	at time.Time
}

// streamRequest is the request an EventSource would send, with a bearer
// token rather than a ticket (the same handler; one request instead of two).
func streamRequest(host, token string) []byte {
	return []byte("GET /api/v1/me/stream HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + token +
		"\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n")
}

// openStream connects from the local address src to the node at addr, sends
// the stream request and returns once the stream is live. received counts
// every broadcast event any client reads.
func openStream(ctx context.Context, src net.IP, addr, token string, received *atomic.Int64) (*sseClient, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect from %s: %w", src, err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second)) // until caught up
	if _, err := conn.Write(streamRequest(addr, token)); err != nil {
		_ = conn.Close() // abandoned: the write's error says what went wrong
		return nil, fmt.Errorf("send the stream request: %w", err)
	}
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		_ = conn.Close() // abandoned: the read's error says what went wrong
		return nil, fmt.Errorf("read the stream's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = conn.Close() // abandoned: the answer says what went wrong
		resp.Body.Close()
		return nil, fmt.Errorf("stream answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	c := &sseClient{conn: conn, caughtUp: make(chan struct{}), done: make(chan struct{})}
	go c.read(resp.Body, received)
	select {
	case <-c.caughtUp:
		_ = conn.SetDeadline(time.Time{})
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("stream ended before it caught up: %w", c.err)
	case <-ctx.Done():
		c.close()
		return nil, ctx.Err()
	}
}

// read parses the stream until it ends, recording each broadcast event.
func (c *sseClient) read(body io.Reader, received *atomic.Int64) {
	defer close(c.done)
	var (
		p    sse.Parser
		buf  [512]byte
		live bool
	)
	for {
		n, err := body.Read(buf[:])
		if n > 0 {
			p.Feed(buf[:n], func(ev sse.Event) {
				switch {
				case ev.Comment == "caught up" && !live:
					live = true
					close(c.caughtUp)
				case ev.Name == "broadcast" && ev.Broadcast != uuid.Nil:
					c.record(ev.Broadcast, time.Now())
					received.Add(1)
				}
			})
		}
		if err != nil {
			c.err = err
			return
		}
	}
}

func (c *sseClient) record(id uuid.UUID, at time.Time) {
	c.mu.Lock()
	c.arrivals = append(c.arrivals, arrival{id: id, at: at})
	c.mu.Unlock()
}

// firstArrival is when the client first read broadcast id, and how many
// more times it read it.
func (c *sseClient) firstArrival(id uuid.UUID) (at time.Time, ok bool, again int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.arrivals {
		if a.id != id {
			continue
		}
		if !ok {
			at, ok = a.at, true
		} else {
			again++
		}
	}
	return at, ok, again
}

// arrivedAt is when the client first read each broadcast.
func (c *sseClient) arrivedAt() map[uuid.UUID]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := make(map[uuid.UUID]time.Time, len(c.arrivals))
	for _, a := range c.arrivals {
		if _, seen := first[a.id]; !seen {
			first[a.id] = a.at
		}
	}
	return first
}

// close ends the connection and waits for its reader.
func (c *sseClient) close() {
	_ = c.conn.Close() // ends the reader, whose error is what matters
	<-c.done
}
