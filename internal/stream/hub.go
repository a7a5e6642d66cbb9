package stream

import (
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
}

// Hub is a node's registry of live connections. Dispatch advances the node's
// position and hands each event to the connections it targets under one lock,
// and register snapshots that position under the same lock: every event after
// a connection's snapshot reaches it live, and every event up to it is in
// PostgreSQL already (Tail writes before it dispatches).
type Hub struct {
	mu     sync.Mutex
	pos    Position
	ready  chan struct{}
	byUser map[string]map[*conn]struct{}
	// QueueSize is each connection's buffer of undelivered events; a client
	// that falls this far behind is disconnected (it resumes from where it
	// was on reconnect). Default 256.
	QueueSize int
}

// NewHub returns a hub that accepts connections once Start set its position.
func NewHub() *Hub {
	return &Hub{ready: make(chan struct{}), byUser: map[string]map[*conn]struct{}{}, QueueSize: 256}
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
	for _, ev := range events {
		h.pos.advance(ev.Partition, ev.Offset)
		switch ev.Value.EventType {
		case broadcast.EventRead:
			for c := range h.byUser[ev.Value.UserID] {
				c.offer(ev)
			}
		case broadcast.EventPublished, broadcast.EventCancelled, broadcast.EventExpired:
			target := ev.Value.Broadcast.Target
			for _, conns := range h.byUser {
				for c := range conns {
					if target.Targets(c.user.ID, c.user.Roles) {
						c.offer(ev)
					}
				}
			}
		}
	}
}

func (h *Hub) register(c *conn) Position {
	h.mu.Lock()
	defer h.mu.Unlock()
	conns := h.byUser[c.user.ID]
	if conns == nil {
		conns = map[*conn]struct{}{}
		h.byUser[c.user.ID] = conns
	}
	conns[c] = struct{}{}
	metrics.SSEConnections.Inc()
	return h.pos.Clone()
}

func (h *Hub) unregister(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if conns := h.byUser[c.user.ID]; conns != nil {
		if _, ok := conns[c]; ok {
			delete(conns, c)
			metrics.SSEConnections.Dec()
		}
		if len(conns) == 0 {
			delete(h.byUser, c.user.ID)
		}
	}
}

// closeAll ends every connection, telling clients to reconnect elsewhere.
func (h *Hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, conns := range h.byUser {
		for c := range conns {
			c.end(endShutdown)
		}
	}
}

// endReason says why a connection ended from the server's side.
type endReason int

const (
	endNone endReason = iota
	endShutdown
	endSlow
)

// conn is one live stream's link to the hub.
type conn struct {
	id    uuid.UUID
	user  inbox.User
	queue chan Event
	done  chan struct{}
	once  sync.Once
	why   endReason
}

func newConn(user inbox.User, size int) *conn {
	return &conn{id: uuid.New(), user: user, queue: make(chan Event, size), done: make(chan struct{})}
}

// offer queues ev without blocking; a full queue ends the connection.
func (c *conn) offer(ev Event) {
	select {
	case c.queue <- ev:
	default:
		c.end(endSlow)
	}
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
