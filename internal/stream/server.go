package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/tracing"
)

// ErrTooManyConnections means the user already holds the most streams allowed.
var ErrTooManyConnections = errors.New("too many open streams for this user")

// Reasons a stream ends at its context's deadline; give one as the cause of
// the deadline (WithDeadline) and the client is told.
var (
	// ErrTokenExpired: the token that opened the stream has expired; the
	// client must reconnect with a fresh one.
	ErrTokenExpired = errors.New("token expired")
	// ErrLifetime: the stream reached its maximum lifetime; reconnect.
	ErrLifetime = errors.New("stream lifetime reached")
)

// Presence records live connections across nodes; *presence.Store is one.
type Presence interface {
	// Admit records c unless its user holds limit live connections already
	// (presence.ErrUserFull), atomically across nodes.
	Admit(ctx context.Context, c presence.Connection, limit int) error
	Unregister(ctx context.Context, id uuid.UUID) error
}

// Config configures a Server.
type Config struct {
	// NodeID names this node in presence. Required.
	NodeID string
	// Heartbeat is the interval of comment lines that keep idle connections
	// (and proxies) open. Default 15s.
	Heartbeat time.Duration
	// MaxPerUser is the most streams one user may hold across nodes (429
	// beyond). Default 5.
	MaxPerUser int
	// WriteTimeout bounds each write to a client. Default 10s.
	WriteTimeout time.Duration
	// ReplayMaxBytes bounds what one resuming stream is replayed: its
	// events' content and about 200 bytes an event. A stream that missed
	// more gets a reset event instead. Default DefaultReplayMaxBytes.
	ReplayMaxBytes int
	// ReplayWindow is how far back a stream may resume; an older position
	// gets a reset event. The maintenance run prunes the log with the same
	// window (CRIER_SSE_REPLAY_WINDOW, PruneLog). Default
	// DefaultReplayWindow.
	ReplayWindow time.Duration
	// ReadyWait bounds how long a new stream waits for the node's tail to
	// start before it is refused with ErrNotReady: a node that just started
	// takes about a second, and a client held longer would only time out
	// without an answer. Default 5s.
	ReadyWait time.Duration
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Server serves users' event streams on one node.
type Server struct {
	hub      *Hub
	pool     *pgxpool.Pool
	inbox    *inbox.Inbox
	presence Presence
	recorder *Recorder
	cfg      Config
	log      *slog.Logger
}

// NewServer returns a stream server over hub.
func NewServer(pool *pgxpool.Pool, hub *Hub, in *inbox.Inbox, presence Presence, recorder *Recorder, cfg Config) *Server {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = 5
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.ReplayMaxBytes <= 0 {
		cfg.ReplayMaxBytes = DefaultReplayMaxBytes
	}
	if cfg.ReplayWindow <= 0 {
		cfg.ReplayWindow = DefaultReplayWindow
	}
	if cfg.ReadyWait <= 0 {
		cfg.ReadyWait = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{hub: hub, pool: pool, inbox: in, presence: presence, recorder: recorder, cfg: cfg,
		log: cfg.Logger.With("component", "stream")}
}

// Close ends every stream on this node with a `shutdown` event that tells
// clients to reconnect (to another node), and waits until they have ended,
// or WriteTimeout and 5 s (a last write, then leaving presence) have passed.
// A stream that opens afterwards ends at once the same way.
func (s *Server) Close() {
	select {
	case <-s.hub.closeAll():
	case <-time.After(s.cfg.WriteTimeout + 5*time.Second):
	}
}

// Serve streams events to u until the client leaves, the node shuts down or
// the client falls too far behind. lastEventID resumes a previous stream;
// empty starts with the user's unread inbox. A user who already holds
// MaxPerUser streams is refused with ErrTooManyConnections before anything
// is written, and so is a stream whose start cannot be read from
// PostgreSQL (presence, what the client missed): the caller can still
// answer with an error status.
//
// Over HTTP/1.x the stream takes its connection over from net/http (see
// takeOver): Serve returns once the client has caught up, and the stream
// goes on in a goroutine of its own. Elsewhere (HTTP/2, test recorders) it
// stays on w and Serve returns when the stream ends.
func (s *Server) Serve(ctx context.Context, w http.ResponseWriter, u inbox.User, lastEventID string) error {
	zone, err := s.inbox.ZoneOf(ctx, u)
	if err != nil {
		return fmt.Errorf("admit stream: %w", err)
	}
	u.TimeZone = zone // the waves of local-time broadcasts that reach them
	c := newConn(u, s.hub.queueSize)
	if err := s.presence.Admit(ctx, presence.Connection{ID: c.id, NodeID: s.cfg.NodeID, UserID: u.ID}, s.cfg.MaxPerUser); err != nil {
		if errors.Is(err, presence.ErrUserFull) {
			return ErrTooManyConnections
		}
		return fmt.Errorf("admit stream: %w", err)
	}
	if ready, err := s.awaitHub(ctx); !ready {
		s.leave(ctx, c)
		return err
	}
	st, m, err := s.start(ctx, c, lastEventID)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	conn, head, owned := takeOver(w)
	if !owned {
		h.Set("Connection", "keep-alive")
		w.WriteHeader(http.StatusOK)
		st.out = &writer{w: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout}
		if err := st.catchUp(m); err != nil {
			s.leave(ctx, c)
			return err
		}
		return st.run(ctx)
	}
	// net/http cancels the request's context as soon as Serve returns.
	ctx, cancel := detach(ctx)
	st.out = &writer{w: conn, conn: conn, head: head, timeout: s.cfg.WriteTimeout}
	if err := st.catchUp(m); err != nil {
		s.leave(ctx, c)
		cancel()
		_ = conn.Close() // the stream is abandoned: a failed close has nobody to tell
		// The response is under way: the error can only end it, as it ends
		// a response net/http writes.
		s.log.Info("A stream ended while catching up", "user_id", u.ID, "error", err)
		return nil
	}
	go watch(conn, cancel)
	go func() {
		defer cancel()
		// The stream is over: a failed close has nobody to tell.
		defer func() { _ = conn.Close() }()
		_ = st.run(ctx) // a failed write ends the stream, as it does on w
	}()
	return nil
}

// ErrNotReady means the node has not started reading the topic yet (its
// tail does not know where the stream stands): Kafka is unreachable or the
// topic is not created yet, or the node has just started. The stream is
// refused before anything is written; the client retries.
var ErrNotReady = errors.New("this node has not started reading the event stream from Kafka")

// awaitHub waits until the hub knows its position (true), or for at most
// ReadyWait (ErrNotReady); false, nil when ctx ends first: the client left,
// and nothing is answered.
func (s *Server) awaitHub(ctx context.Context) (bool, error) {
	wait := time.NewTimer(s.cfg.ReadyWait)
	defer wait.Stop()
	select {
	case <-s.hub.Ready():
		return true, nil
	case <-ctx.Done():
		return false, nil
	case <-wait.C:
		return false, ErrNotReady
	}
}

// start registers a stream presence admitted with the hub (live events
// queue for it from then on) and reads what the client missed up to that
// point. Nothing is written yet; on an error the stream leaves again.
func (s *Server) start(ctx context.Context, c *conn, lastEventID string) (*session, missed, error) {
	snapshot := s.hub.register(c)
	st := &session{s: s, conn: c, user: c.user, sent: map[uuid.UUID]bool{}}
	m, err := st.readMissed(ctx, lastEventID, snapshot)
	if err != nil {
		s.leave(ctx, c)
		return nil, missed{}, err
	}
	return st, m, nil
}

// leave removes a stream that ended from presence and from the hub.
func (s *Server) leave(ctx context.Context, c *conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.presence.Unregister(ctx, c.id); err != nil {
		s.log.Warn("Could not remove presence", "connection_id", c.id, "error", err)
	}
	s.hub.unregister(c)
}

// run sends live events and heartbeats until the stream ends, then leaves.
func (st *session) run(ctx context.Context) error {
	s, c := st.s, st.conn
	defer s.leave(ctx, c)
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-c.wake:
			for _, ev := range c.take() {
				if err := st.send(ev); err != nil {
					return err
				}
			}
		case <-beat.C:
			if err := st.out.comment("heartbeat"); err != nil {
				return err
			}
		case <-c.done:
			if c.why == endShutdown {
				return st.out.event("", "shutdown", map[string]any{"reason": "server shutting down", "reconnect": true}, 1000)
			}
			s.log.Info("Disconnected a client that fell behind", "user_id", st.user.ID, "queue", s.hub.queueSize)
			return nil
		case <-ctx.Done():
			if cause := context.Cause(ctx); errors.Is(cause, ErrTokenExpired) || errors.Is(cause, ErrLifetime) {
				return st.out.event("", "shutdown", map[string]any{"reason": cause.Error(), "reconnect": true}, 1000)
			}
			return nil
		}
	}
}

// session is one stream's state: the client's position and the broadcasts it
// was sent in this stream.
type session struct {
	s    *Server
	out  *writer
	conn *conn
	user inbox.User
	pos  Position
	sent map[uuid.UUID]bool
}

// missed is what a new stream sends before live events, read from
// PostgreSQL before anything is written.
type missed struct {
	// snapshot is the hub's position when the stream registered: where the
	// stream stands once caught up.
	snapshot Position
	// first: a first connection, sent its unread inbox.
	first  bool
	unread []inbox.Item
	// from and events: a resuming one, replayed what followed from.
	from   Position
	events []Event
	// reset: the position cannot be replayed (too old, too much, unknown).
	reset resetReason
}

// readMissed reads what the client missed up to snapshot: the events after its
// Last-Event-ID, replayed from PostgreSQL, or, for a new client, its unread
// inbox. A Last-Event-ID that cannot be replayed within the window and the
// byte bound gets a reset event instead.
func (st *session) readMissed(ctx context.Context, lastEventID string, snapshot Position) (missed, error) {
	if lastEventID == "" {
		unread, err := st.s.inbox.Unread(ctx, st.user)
		return missed{snapshot: snapshot, first: true, unread: unread}, err
	}
	from, err := parsePosition(lastEventID, len(snapshot))
	if err != nil {
		return missed{snapshot: snapshot, reset: resetUnknown}, nil //nolint:nilerr // a position this stream never sent: reset, not a failure
	}
	events, why, err := replay(ctx, st.s.pool, replayQuery{user: st.user, from: from, to: snapshot,
		maxBytes: st.s.cfg.ReplayMaxBytes, window: st.s.cfg.ReplayWindow})
	if err != nil {
		return missed{}, err
	}
	return missed{snapshot: snapshot, from: from, events: events, reset: why}, nil
}

// catchUp sends what the client missed (readMissed).
func (st *session) catchUp(m missed) error {
	switch {
	case m.reset != "":
		return st.reset(m.snapshot, m.reset)
	case m.first:
		return st.sendUnread(m.snapshot, m.unread)
	}
	st.pos = m.from
	for i := range m.events {
		// The replay's SQL keeps the user's broadcasts; which wave of a
		// local-time one brings them is the broadcast's rule.
		if v := &m.events[i].Value; v.EventType == broadcast.EventPublished && !v.Broadcast.BroughtBy(st.user.TimeZone) {
			continue
		}
		if err := st.write(&m.events[i]); err != nil {
			return err
		}
	}
	st.pos = maxPosition(st.pos, m.snapshot)
	return nil
}

// reset tells the client it cannot be replayed what it missed: it reloads
// its inbox and resumes from snapshot, the reset's id.
func (st *session) reset(snapshot Position, why resetReason) error {
	st.s.log.Info("A stream cannot be replayed what it missed; sending reset", "user_id", st.user.ID, "reason", why)
	st.pos = snapshot
	return st.out.event(st.pos.String(), "reset", resetNotice{Reason: why, Reload: true}, 0)
}

// sendUnread starts a new client at snapshot with its unread inbox.
func (st *session) sendUnread(snapshot Position, unread []inbox.Item) error {
	st.pos = snapshot
	for _, it := range unread {
		if err := st.out.event(st.pos.String(), "broadcast", message{ID: it.ID, Title: it.Title, Content: it.Content,
			Category: it.Category, Priority: it.Priority, PublishedAt: it.PublishedAt, ExpiresAt: it.ExpiresAt}, 0); err != nil {
			return err
		}
		st.sent[it.ID] = true
		st.s.recorder.Delivered(it.ID, st.user.ID)
	}
	return st.out.comment("caught up")
}

// send writes one live event if it concerns this user.
func (st *session) send(ev *Event) error {
	v := &ev.Value
	switch v.EventType {
	case broadcast.EventPublished, broadcast.EventCancelled, broadcast.EventExpired:
		if !concerns(v, st.user) {
			return nil
		}
	case broadcast.EventRead:
		if v.UserID != st.user.ID {
			return nil
		}
	case broadcast.EventRescheduled:
		// Not streamed (the hub offers none): a new schedule changes nothing
		// a client holds, and an expiry reaches it as EventExpired.
		return nil
	}
	return st.write(ev)
}

// write writes one event that concerns this user (live events through
// send; replay selects only those), advancing the position.
func (st *session) write(ev *Event) error {
	v := &ev.Value
	var (
		name string
		data any
	)
	switch v.EventType {
	case broadcast.EventPublished:
		if st.sent[v.BroadcastID] {
			return nil
		}
		b := v.Broadcast
		name, data = "broadcast", message{ID: b.ID, Title: b.Title, Content: b.Content, Category: b.Category,
			Priority: b.Priority, PublishedAt: b.PublishedAt, ExpiresAt: b.ExpiresAt}
	case broadcast.EventCancelled, broadcast.EventExpired:
		reason := "cancelled"
		if v.EventType == broadcast.EventExpired {
			reason = "expired"
		}
		name, data = "retract", retraction{ID: v.BroadcastID, Reason: reason}
	case broadcast.EventRead:
		name, data = "read", readReceipt{ID: v.BroadcastID, ReadAt: v.OccurredAt}
	default:
		return nil
	}
	st.pos.advance(ev.Partition, ev.Offset)
	if ev.Trace.IsValid() {
		_, span := tracing.Tracer().Start(trace.ContextWithRemoteSpanContext(context.Background(), ev.Trace), "sse.write "+name,
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
				attribute.String("crier.broadcast_id", v.BroadcastID.String()), attribute.String("crier.user_id", st.user.ID)))
		defer span.End()
	}
	raw, err := ev.encode(data)
	if err != nil {
		return err
	}
	if err := st.out.frame(st.pos.String(), name, raw, 0); err != nil {
		return err
	}
	if name == "broadcast" {
		st.sent[v.BroadcastID] = true
		st.s.recorder.Delivered(v.BroadcastID, st.user.ID)
	}
	return nil
}

func maxPosition(a, b Position) Position {
	out := a.Clone()
	for i := range out {
		if i < len(b) && b[i] > out[i] {
			out[i] = b[i]
		}
	}
	return out
}

// The JSON of each stream event.
type (
	message struct {
		ID          uuid.UUID          `json:"id"`
		Title       string             `json:"title"`
		Content     string             `json:"content"`
		Category    string             `json:"category"`
		Priority    broadcast.Priority `json:"priority"`
		PublishedAt *time.Time         `json:"published_at"`
		ExpiresAt   *time.Time         `json:"expires_at"`
	}
	retraction struct {
		ID     uuid.UUID `json:"id"`
		Reason string    `json:"reason"`
	}
	readReceipt struct {
		ID     uuid.UUID `json:"id"`
		ReadAt time.Time `json:"read_at"`
	}
	// resetNotice: the stream cannot replay what the client missed; it
	// reloads its inbox and resumes from the reset's id.
	resetNotice struct {
		Reason resetReason `json:"reason"`
		Reload bool        `json:"reload"`
	}
)

// writer writes SSE frames, each with its own write deadline, and flushes:
// to the response through its ResponseController, or straight to the
// connection once the stream has taken it over.
type writer struct {
	w    io.Writer
	rc   *http.ResponseController // nil when w is conn
	conn net.Conn
	// head is the response head, sent with the first frame on conn.
	head    []byte
	timeout time.Duration
}

// encode returns data, the event's stream data, as JSON: encoded by the
// first stream that sends the event, shared by the others.
func (ev *Event) encode(data any) ([]byte, error) {
	e := ev.encoded
	if e == nil {
		return json.Marshal(data)
	}
	e.once.Do(func() { e.data, e.err = json.Marshal(data) })
	return e.data, e.err
}

// event writes one event. data is JSON on a single line, so nothing in it
// can inject stream fields.
func (o *writer) event(id, name string, data any, retryMillis int) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return o.frame(id, name, raw, retryMillis)
}

// frame writes one event whose data is raw, JSON already.
func (o *writer) frame(id, name string, raw []byte, retryMillis int) error {
	frame := make([]byte, 0, len(raw)+len(id)+len(name)+32)
	if id != "" {
		frame = append(frame, "id: "+id+"\n"...)
	}
	frame = append(frame, "event: "+name+"\n"...)
	if retryMillis > 0 {
		frame = fmt.Appendf(frame, "retry: %d\n", retryMillis)
	}
	frame = append(frame, "data: "...)
	frame = append(frame, raw...)
	frame = append(frame, "\n\n"...)
	if err := o.write(frame); err != nil {
		return err
	}
	metrics.SSEEventsSent.WithLabelValues(name).Inc()
	return nil
}

func (o *writer) comment(text string) error {
	return o.write([]byte(": " + text + "\n\n"))
}

func (o *writer) write(frame []byte) error {
	if o.conn != nil {
		if o.head != nil {
			frame, o.head = append(o.head, frame...), nil
		}
		if err := o.conn.SetWriteDeadline(time.Now().Add(o.timeout)); err != nil {
			return err
		}
		_, err := o.conn.Write(frame)
		return err
	}
	if err := o.rc.SetWriteDeadline(time.Now().Add(o.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := o.w.Write(frame); err != nil {
		return err
	}
	return o.rc.Flush()
}
