package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/testenv"
)

// e2e is a running `crier all` on the real services, with an admin token and
// an independent Kafka consumer on its topic.
type e2e struct {
	t        *testing.T
	ctx      context.Context
	baseURL  string
	token    string
	events   chan kafka.Message
	received []broadcast.Event
	temporal client.Client
}

// stack is what every node of one test shares: a database, a topic and a
// task queue of its own on the real services.
type stack struct {
	env     map[string]string
	brokers []string
}

func newStack(t *testing.T) *stack {
	brokers := testenv.KafkaBrokers(t)
	return &stack{brokers: brokers, env: map[string]string{
		"CRIER_ENV_FILE": filepath.Join(t.TempDir(), "none"), "CRIER_ENV": "development",
		"DATABASE_URL": testenv.DatabaseURL(t), "KAFKA_BROKERS": strings.Join(brokers, ","),
		"TEMPORAL_ADDRESS":  testenv.TemporalAddress(t),
		"CRIER_KAFKA_TOPIC": testenv.Name("e2e-broadcasts"), "CRIER_TASK_QUEUE": testenv.Name("e2e-queue"),
		"CRIER_RELAY_POLL_INTERVAL": "200ms",
		// Every test client comes from 127.0.0.1: one address limit would
		// throttle them all. The limits have their own tests in api.
		"CRIER_RATE_PER_ADDRESS": "0",
	}}
}

// node is one Crier process, run in this test process.
type node struct {
	baseURL string
	stop    func()
	// logs are the process's logs so far.
	logs *syncBuffer
}

// start runs `crier <cmd>` as node id and waits until it is ready.
func (s *stack) start(t *testing.T, cmd, id string) *node {
	addr := freeAddr(t)
	for k, v := range s.env {
		t.Setenv(k, v)
	}
	t.Setenv("CRIER_HTTP_ADDR", addr)
	t.Setenv("CRIER_NODE_ID", id)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	logs := &syncBuffer{}
	go func() { runErr = run(ctx, []string{cmd}, io.Discard, logs); close(done) }()
	var once sync.Once
	n := &node{baseURL: "http://" + addr, logs: logs}
	n.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
				require.NoError(t, runErr)
			case <-time.After(30 * time.Second):
				t.Errorf("crier %s (%s) did not stop within 30 s of its context ending", cmd, id)
			}
			if t.Failed() {
				t.Logf("crier %s (%s) logs:\n%s", cmd, id, logs.String())
			}
		})
	}
	t.Cleanup(n.stop)
	testenv.Eventually(t, 60*time.Second, func() error {
		select {
		case <-done:
			t.Fatalf("crier %s exited early: %v\n%s", cmd, runErr, logs.String())
		default:
		}
		resp, err := http.Get(n.baseURL + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d: %s", resp.StatusCode, body)
		}
		return nil
	})
	return n
}

// syncBuffer collects logs written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startCrier(t *testing.T) *e2e {
	s := newStack(t)
	n := s.start(t, "all", "e2e-node")
	e := &e2e{t: t, ctx: context.Background(), baseURL: n.baseURL}
	token, err := auth.Issue([]byte(config.DevJWTSecret), "alice", "Alice", []string{auth.RoleAdmin}, time.Hour, time.Now())
	require.NoError(t, err)
	e.token = token
	e.events = readTopic(e.ctx, t, s.brokers, s.env["CRIER_KAFKA_TOPIC"])
	e.temporal, err = client.Dial(client.Options{HostPort: s.env["TEMPORAL_ADDRESS"]})
	require.NoError(t, err)
	t.Cleanup(e.temporal.Close)
	return e
}

// readTopic reads every partition of the topic from its start with plain
// partition readers (no consumer group, so no join delay), independently of
// Crier, and merges the messages into one channel.
func readTopic(ctx context.Context, t *testing.T, brokers []string, topic string) chan kafka.Message {
	var partitions []kafka.Partition
	testenv.Eventually(t, 30*time.Second, func() error {
		conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
		if err != nil {
			return err
		}
		defer conn.Close()
		partitions, err = conn.ReadPartitions(topic)
		if err == nil && len(partitions) == 0 {
			err = fmt.Errorf("topic %s has no partitions yet", topic)
		}
		return err
	})
	out := make(chan kafka.Message, 1024)
	for _, p := range partitions {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID, MaxWait: 20 * time.Millisecond})
		t.Cleanup(func() { _ = r.Close() })
		go func() {
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				out <- m
			}
		}()
	}
	return out
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// call sends a JSON request and decodes the answer into out (when not nil).
func (e *e2e) call(method, path string, body any, out any) int {
	e.t.Helper()
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(e.t, err)
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.baseURL+path, reader)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	if out != nil {
		require.NoError(e.t, json.Unmarshal(raw, out), "body: %s", raw)
	}
	return resp.StatusCode
}

func (e *e2e) create(body map[string]any) broadcast.Broadcast {
	e.t.Helper()
	var b broadcast.Broadcast
	require.Equal(e.t, http.StatusCreated, e.call(http.MethodPost, "/api/v1/broadcasts", body, &b))
	return b
}

func (e *e2e) get(id uuid.UUID) broadcast.Broadcast {
	e.t.Helper()
	var b broadcast.Broadcast
	require.Equal(e.t, http.StatusOK, e.call(http.MethodGet, "/api/v1/broadcasts/"+id.String(), nil, &b))
	return b
}

// await reads the topic until the event of type typ for broadcast id arrives
// and returns it with the time it was read.
func (e *e2e) await(id uuid.UUID, typ broadcast.EventType) (broadcast.Event, time.Time) {
	e.t.Helper()
	return e.awaitBy(id, typ, time.Now().Add(30*time.Second))
}

// awaitBy is await with a deadline of its own, and returns when the event
// was read (zero when it had been read before).
func (e *e2e) awaitBy(id uuid.UUID, typ broadcast.EventType, deadline time.Time) (broadcast.Event, time.Time) {
	e.t.Helper()
	for _, ev := range e.received {
		if ev.BroadcastID == id && ev.EventType == typ {
			return ev, time.Time{}
		}
	}
	timeout := time.After(time.Until(deadline))
	for {
		var m kafka.Message
		select {
		case m = <-e.events:
		case <-timeout:
			e.t.Fatalf("no %s of %s by %s", typ, id, deadline.Format(time.TimeOnly))
		}
		var ev broadcast.Event
		require.NoError(e.t, json.Unmarshal(m.Value, &ev))
		e.received = append(e.received, ev)
		if ev.BroadcastID == id && ev.EventType == typ {
			return ev, time.Now()
		}
	}
}

func body(title string, scheduledIn, expiresIn time.Duration) map[string]any {
	now := time.Now()
	b := map[string]any{
		"title": title, "content": "Crier end-to-end: " + title, "category": "test", "priority": "HIGH",
		"target":     map[string]any{"type": "ROLE", "ids": []string{"ops"}},
		"expires_at": now.Add(expiresIn).Format(time.RFC3339Nano),
	}
	if scheduledIn > 0 {
		b["scheduled_at"] = now.Add(scheduledIn).Format(time.RFC3339Nano)
	}
	return b
}

// TestEndToEnd drives Crier through HTTP against real PostgreSQL, Kafka and
// Temporal, and reads what reaches the broadcast_messages topic with an
// independent consumer.
func TestEndToEnd(t *testing.T) {
	e := startCrier(t)
	t.Logf("end-to-end against real services: PostgreSQL %s, Kafka %s, Temporal %s",
		strings.Split(strings.TrimPrefix(os.Getenv("DATABASE_URL"), "postgres://"), "?")[0], os.Getenv("KAFKA_BROKERS"), os.Getenv("TEMPORAL_ADDRESS"))

	t.Run("scheduled broadcast is published at its time, then cancelled", func(t *testing.T) {
		b := e.create(body("two seconds ahead", 2*time.Second, time.Hour))
		require.Equal(t, broadcast.StatusScheduled, b.Status)

		ev, readAt := e.await(b.ID, broadcast.EventPublished)
		require.False(t, ev.OccurredAt.Before(*b.ScheduledAt), "published before its time")
		t.Logf("published %s after scheduled_at; read from Kafka %s after scheduled_at",
			ev.OccurredAt.Sub(*b.ScheduledAt).Round(time.Millisecond), readAt.Sub(*b.ScheduledAt).Round(time.Millisecond))
		require.Equal(t, broadcast.StatusSent, e.get(b.ID).Status)
		e.requireSearchStatus(b.ID, broadcast.StatusSent)

		var refused map[string]any
		later := time.Now().Add(time.Hour).Format(time.RFC3339)
		require.Equal(t, http.StatusConflict, e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/reschedule",
			map[string]any{"scheduled_at": later}, &refused), "scheduled_at cannot change after publication")

		var cancelled broadcast.Broadcast
		require.Equal(t, http.StatusOK, e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/cancel", nil, &cancelled))
		require.Equal(t, broadcast.StatusCancelled, cancelled.Status)
		retract, _ := e.await(b.ID, broadcast.EventCancelled)
		require.Equal(t, broadcast.StatusCancelled, retract.Broadcast.Status)
		e.requireSearchStatus(b.ID, broadcast.StatusCancelled)
	})

	t.Run("broadcast sent now expires at its expiry", func(t *testing.T) {
		b := e.create(body("expires in three seconds", 0, 3*time.Second))
		e.await(b.ID, broadcast.EventPublished)
		ev, _ := e.await(b.ID, broadcast.EventExpired)
		require.False(t, ev.OccurredAt.Before(*b.ExpiresAt), "expired before its time")
		got := e.get(b.ID)
		require.Equal(t, broadcast.StatusExpired, got.Status)
		require.NotNil(t, got.ExpiredAt)

		var refused map[string]any
		require.Equal(t, http.StatusConflict, e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/cancel", nil, &refused))
	})

	t.Run("rescheduled earlier, it goes out at the new time", func(t *testing.T) {
		b := e.create(body("an hour ahead, then moved", time.Hour, 2*time.Hour))
		newTime := time.Now().Add(3 * time.Second).UTC()
		var moved broadcast.Broadcast
		require.Equal(t, http.StatusOK, e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/reschedule",
			map[string]any{"scheduled_at": newTime.Format(time.RFC3339Nano)}, &moved))
		require.WithinDuration(t, newTime, *moved.ScheduledAt, time.Millisecond)
		e.await(b.ID, broadcast.EventRescheduled)
		ev, _ := e.await(b.ID, broadcast.EventPublished)
		require.False(t, ev.OccurredAt.Before(newTime))
		require.Less(t, ev.OccurredAt.Sub(newTime), 30*time.Second, "it went out at the new time, not the old one")
	})

	t.Run("cancelled before its time, nothing is published", func(t *testing.T) {
		b := e.create(body("cancelled early", time.Hour, 2*time.Hour))
		var cancelled broadcast.Broadcast
		require.Equal(t, http.StatusOK, e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/cancel", nil, &cancelled))
		require.Equal(t, broadcast.StatusCancelled, cancelled.Status)
		require.Equal(t, http.StatusOK, e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/cancel", nil, &cancelled), "a retried cancel succeeds")
		// A marker published after the cancel proves the consumer has read
		// past the point where a wrong publication would be.
		marker := e.create(body("marker", 0, time.Hour))
		e.await(marker.ID, broadcast.EventPublished)
		for _, ev := range e.received {
			require.NotEqual(t, b.ID, ev.BroadcastID, "a cancelled-before-publication broadcast produced %s", ev.EventType)
		}
	})

	t.Run("cancelled 100 ms before its time, already loaded by the due dispatcher, nothing is published", e.cancelAtTheLastMoment)
	t.Run("rescheduled 100 ms before its time, it goes out at the new time only", e.rescheduleAtTheLastMoment)
	t.Run("draft is scheduled later", func(t *testing.T) {
		d := body("draft", 0, time.Hour)
		d["draft"] = true
		b := e.create(d)
		require.Equal(t, broadcast.StatusDraft, b.Status)
		var scheduled broadcast.Broadcast
		require.Equal(t, http.StatusOK, e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/schedule", nil, &scheduled))
		require.Equal(t, broadcast.StatusScheduled, scheduled.Status)
		e.await(b.ID, broadcast.EventPublished)
	})
}

// cancelAtTheLastMoment cancels a broadcast 100 ms before its due time,
// when every worker's due dispatcher holds it for that instant: the cancel
// wins and nothing is published.
func (e *e2e) cancelAtTheLastMoment(t *testing.T) {
	b := e.create(body("cancelled at the last moment", 3*time.Second, time.Hour))
	time.Sleep(time.Until(b.ScheduledAt.Add(-100 * time.Millisecond))) // the moment under test
	sent := time.Now()
	var cancelled broadcast.Broadcast
	require.Equal(t, http.StatusOK, e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/cancel", nil, &cancelled))
	t.Logf("cancel sent %s before scheduled_at, answered %s after it was sent",
		b.ScheduledAt.Sub(sent).Round(time.Millisecond), time.Since(sent).Round(time.Millisecond))
	require.Equal(t, broadcast.StatusCancelled, cancelled.Status)
	time.Sleep(time.Until(b.ScheduledAt.Add(time.Second))) // past the due time: a wrong publication would be out
	e.requireNothingPublishedFor(b.ID)
}

// rescheduleAtTheLastMoment moves a broadcast 3 s later 100 ms before its
// due time: it goes out at the new time, not the old one.
func (e *e2e) rescheduleAtTheLastMoment(t *testing.T) {
	b := e.create(body("moved at the last moment", 3*time.Second, time.Hour))
	time.Sleep(time.Until(b.ScheduledAt.Add(-100 * time.Millisecond))) // the moment under test
	newTime := b.ScheduledAt.Add(3 * time.Second).UTC()
	require.Equal(t, http.StatusOK, e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/reschedule",
		map[string]any{"scheduled_at": newTime.Format(time.RFC3339Nano)}, nil))
	ev, _ := e.await(b.ID, broadcast.EventPublished)
	require.False(t, ev.OccurredAt.Before(newTime), "published at the old time")
}

// requireNothingPublishedFor checks, once a marker published now has come
// back from the topic (so the consumer has read past where a wrong event
// would be), that no BROADCAST_PUBLISHED of id was read.
func (e *e2e) requireNothingPublishedFor(id uuid.UUID) {
	e.t.Helper()
	marker := e.create(body("marker", 0, time.Hour))
	e.await(marker.ID, broadcast.EventPublished)
	for _, ev := range e.received {
		if ev.BroadcastID == id {
			require.NotEqual(e.t, broadcast.EventPublished, ev.EventType, "a broadcast cancelled before its time was published")
		}
	}
}

// requireSearchStatus waits until Temporal's visibility lists the broadcast's
// workflow with the given CrierStatus, as Web UI's filter would.
func (e *e2e) requireSearchStatus(id uuid.UUID, status broadcast.Status) {
	e.t.Helper()
	query := fmt.Sprintf(`WorkflowId = %q AND CrierStatus = %q`, broadcast.WorkflowID(id), status)
	testenv.Eventually(e.t, 15*time.Second, func() error {
		resp, err := e.temporal.ListWorkflow(e.ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			return err
		}
		if len(resp.GetExecutions()) == 0 {
			return fmt.Errorf("no workflow matches %s", query)
		}
		return nil
	})
}
