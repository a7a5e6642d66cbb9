package stream

import (
	"slices"
	"sync"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/metrics"
)

// Event is a consumed lifecycle event with its position on the topic.
type Event struct {
	Partition int
	Offset    int64
	Value     broadcast.Event
	// Trace is the span that produced the message, when it carried one:
	// stream writes continue that trace.
	Trace trace.SpanContext
	// encoded is the event's data, encoded once for every stream it goes
	// to; Dispatch sets it (replayed events have none).
	encoded *encoding
}

// encoding is an event's stream data, encoded by the first stream that
// sends it and shared by the rest: a broadcast to 10,000 streams is
// marshalled once, not 10,000 times.
type encoding struct {
	once sync.Once
	data []byte
	err  error
}

// Hub is a node's registry of live connections. Dispatch advances the node's
// position and hands each event to the connections it targets under one lock,
// and register snapshots that position under the same lock: every event after
// a connection's snapshot reaches it live, and every event up to it is in
// PostgreSQL already (Tail writes before it dispatches).
type Hub struct {
	mu    sync.Mutex
	pos   Position
	ready chan struct{}
	// byUser holds each user's few connections (Server.MaxPerUser).
	byUser map[string][]*conn
	// closing is set by closeAll and closed once no connection is left.
	closing chan struct{}
	closed  bool
	// queueSize is HubConfig.QueueSize.
	queueSize int
}

// HubConfig configures a Hub.
type HubConfig struct {
	// QueueSize is how many undelivered events a connection may hold; a
	// client that falls this far behind is disconnected (it resumes from
	// where it was on reconnect). Default 256.
	QueueSize int
}

// NewHub returns a hub that accepts connections once Start set its position.
func NewHub(cfg HubConfig) *Hub {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	return &Hub{ready: make(chan struct{}), byUser: map[string][]*conn{}, queueSize: cfg.QueueSize}
}

// start sets the node's initial position; until then connections wait.
func (h *Hub) start(pos Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos = pos
	close(h.ready)
}

// Ready is closed once the hub knows its position.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Dispatch records events as delivered up to their positions and offers each
// to the connections it concerns.
func (h *Hub) Dispatch(events []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range events {
		// Every connection gets the same event, read-only, and shares its
		// encoding.
		ev := &events[i]
		ev.encoded = &encoding{}
		h.pos.advance(ev.Partition, ev.Offset)
		switch ev.Value.EventType {
		case broadcast.EventRead:
			for _, c := range h.byUser[ev.Value.UserID] {
				c.offer(ev)
			}
		case broadcast.EventPublished, broadcast.EventCancelled, broadcast.EventExpired:
			for _, conns := range h.byUser {
				for _, c := range conns {
					if concerns(&ev.Value, c.user) {
						c.offer(ev)
					}
				}
			}
		case broadcast.EventRescheduled:
			// Not streamed: a new schedule changes nothing a client holds,
			// and an expiry reaches it as EventExpired. Its position still
			// counts as delivered (above).
		}
	}
}

// concerns reports whether a lifecycle event of a broadcast goes to u: one
// targeted at them and, for a local-time broadcast's publication, the wave
// that brings it to their zone (a cancel or an expiry goes to every
// recipient, who drops a broadcast they never held).
func concerns(ev *broadcast.Event, u inbox.User) bool {
	b := &ev.Broadcast
	if !b.Target.Targets(u.ID, u.Roles) {
		return false
	}
	return ev.EventType != broadcast.EventPublished || b.BroughtBy(u.TimeZone)
}

func (h *Hub) register(c *conn) Position {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.byUser[c.user.ID] = append(h.byUser[c.user.ID], c)
	metrics.SSEConnections.Inc()
	if h.closing != nil {
		c.end(endShutdown) // the node is stopping: tell the client at once
	}
	return h.pos.Clone()
}

func (h *Hub) unregister(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	conns := h.byUser[c.user.ID]
	if i := slices.Index(conns, c); i >= 0 {
		conns = slices.Delete(conns, i, i+1)
		metrics.SSEConnections.Dec()
	}
	if len(conns) == 0 {
		delete(h.byUser, c.user.ID)
	} else {
		h.byUser[c.user.ID] = conns
	}
	h.drained()
}

// closeAll ends every connection, and any that registers later, telling
// clients to reconnect elsewhere. The channel it returns is closed once
// every connection has unregistered.
func (h *Hub) closeAll() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing == nil {
		h.closing = make(chan struct{})
	}
	for _, conns := range h.byUser {
		for _, c := range conns {
			c.end(endShutdown)
		}
	}
	h.drained()
	return h.closing
}

// drained closes closing once the hub is closing and empty; h.mu is held.
func (h *Hub) drained() {
	if h.closing != nil && !h.closed && len(h.byUser) == 0 {
		close(h.closing)
		h.closed = true
	}
}

// endReason says why a connection ended from the server's side.
type endReason int

const (
	endNone endReason = iota
	endShutdown
	endSlow
)

// conn is one live stream's link to the hub. Its queue holds pointers to
// the hub's events and is allocated only while events wait, so an idle
// connection costs the hub a few hundred bytes, not HubConfig.QueueSize events.
type conn struct {
	id   uuid.UUID
	user inbox.User
	max  int // HubConfig.QueueSize

	mu      sync.Mutex
	pending []*Event
	// wake holds a token while pending has events for the stream to take.
	wake chan struct{}

	done chan struct{}
	once sync.Once
	why  endReason
}

func newConn(user inbox.User, size int) *conn {
	return &conn{id: uuid.New(), user: user, max: size, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// offer queues ev without blocking; a full queue ends the connection.
func (c *conn) offer(ev *Event) {
	c.mu.Lock()
	full := len(c.pending) >= c.max
	if !full {
		c.pending = append(c.pending, ev)
	}
	c.mu.Unlock()
	if full {
		c.end(endSlow)
		return
	}
	select {
	case c.wake <- struct{}{}:
	default: // a token is already waiting
	}
}

// take returns the queued events, oldest first, and empties the queue.
func (c *conn) take() []*Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	evs := c.pending
	c.pending = nil
	return evs
}

func (c *conn) end(why endReason) {
	c.once.Do(func() {
		if why == endSlow {
			metrics.SSESlowClientsDropped.Inc()
		}
		c.why = why
		close(c.done)
	})
}

// skip advances the node's position past a message that carried no event.
func (h *Hub) skip(partition int, offset int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos.advance(partition, offset)
}
