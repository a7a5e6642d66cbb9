package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/deadletter"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/stream"
	"github.com/crier/crier/internal/testenv"
)

// recoveryRun is a `crier all` on one partition (so a poison message sits
// between two good events of the same partition) with a dead-letter topic
// of its own.
type recoveryRun struct {
	e     *e2e
	n     *node
	s     *stack
	admin string
	db    *pgx.Conn
}

func startRecovery(t *testing.T) *recoveryRun {
	s := newStack(t)
	s.env["CRIER_KAFKA_PARTITIONS"] = "1"
	s.env["CRIER_KAFKA_DEAD_LETTER_TOPIC"] = testenv.Name("e2e-dead-letters")
	n := s.start(t, "all", "e2e-recovery")
	e := &e2e{t: t, ctx: context.Background(), baseURL: n.baseURL, token: tokens(t).admin}
	e.events = readTopic(e.ctx, t, s.brokers, s.env["CRIER_KAFKA_TOPIC"])
	db, err := pgx.Connect(e.ctx, s.env["DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	return &recoveryRun{e: e, n: n, s: s, admin: e.token, db: db}
}

// TestRecoveryEndToEnd: on the real stack, a poison message produced
// straight into the topic is dead-lettered by both consumers while the
// partition keeps flowing, shows in the metrics and the API, and is dropped
// or redriven there; a broadcast whose publication PostgreSQL refused is
// FAILED, and once the cause is gone an admin's retry publishes it, once.
func TestRecoveryEndToEnd(t *testing.T) {
	r := startRecovery(t)
	t.Run("poison is dead-lettered and the partition flows", r.poisonFlows)
	t.Run("a FAILED broadcast is retried and published once", r.retryFailed)
	t.Run("a broadcast failed after publication is retried; its old run is terminated", r.retryFailedAfterPublication)
}

type letterPage struct {
	Items []deadletter.Letter `json:"items"`
}

func (r *recoveryRun) letters(t *testing.T, consumer string) []deadletter.Letter {
	t.Helper()
	var page letterPage
	require.Equal(t, http.StatusOK, call(t, r.n, r.admin, http.MethodGet, "/api/v1/dead-letters?consumer="+consumer, nil, &page))
	return page.Items
}

func (r *recoveryRun) waitLetter(t *testing.T, consumer string, status deadletter.Status) deadletter.Letter {
	t.Helper()
	var l deadletter.Letter
	testenv.Eventually(t, 30*time.Second, func() error {
		page := r.letters(t, consumer)
		if len(page) != 1 || page[0].Status != status {
			return fmt.Errorf("dead letters of %s: %+v, want one %s", consumer, page, status)
		}
		l = page[0]
		return nil
	})
	return l
}

func (r *recoveryRun) poisonFlows(t *testing.T) {
	before := r.e.create(body("before the poison", 0, time.Hour))
	r.await(t, before.ID, broadcast.EventPublished)
	w := &kafka.Writer{Addr: kafka.TCP(r.s.brokers...), Topic: r.s.env["CRIER_KAFKA_TOPIC"], BatchTimeout: time.Millisecond}
	require.NoError(t, w.WriteMessages(r.e.ctx, kafka.Message{Key: []byte(before.ID.String()), Value: []byte("not JSON")}))
	require.NoError(t, w.Close())
	after := r.e.create(body("after the poison", 0, time.Hour))
	r.await(t, after.ID, broadcast.EventPublished)
	r.waitCounted(t, after)

	audienceLetter := r.waitLetter(t, audience.Consumer, deadletter.StatusPending)
	tailLetter := r.waitLetter(t, stream.Consumer, deadletter.StatusPending)
	require.Equal(t, deadletter.ReasonUndecodable, audienceLetter.Reason)
	require.Equal(t, audienceLetter.Offset, tailLetter.Offset)
	var got deadletter.Letter
	require.Equal(t, http.StatusOK, call(t, r.n, r.admin, http.MethodGet, "/api/v1/dead-letters/"+tailLetter.ID.String(), nil, &got))
	require.Equal(t, "not JSON", got.Message.Value)
	dead := readTopic(r.e.ctx, t, r.s.brokers, r.s.env["CRIER_KAFKA_DEAD_LETTER_TOPIC"])
	consumers := map[string]bool{}
	for len(consumers) < 2 {
		select {
		case m := <-dead:
			require.Equal(t, "not JSON", string(m.Value))
			consumers[header(m, deadletter.HeaderConsumer)] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("the dead-letter topic has %v, want both consumers", consumers)
		}
	}
	r.requireMetric(t, `crier_dead_letters_total{consumer="audience",reason="undecodable"} 1`)
	r.requireMetric(t, `crier_dead_letters_pending{consumer="stream-tail"} 1`)

	// Dropped by one; redriven by the other, where it fails again (it is
	// still not JSON) and says so.
	require.Equal(t, http.StatusOK, call(t, r.n, r.admin, http.MethodDelete, "/api/v1/dead-letters/"+audienceLetter.ID.String(), nil, &got))
	require.Equal(t, deadletter.StatusDropped, got.Status)
	require.Equal(t, http.StatusAccepted, call(t, r.n, r.admin, http.MethodPost, "/api/v1/dead-letters/"+tailLetter.ID.String()+"/redrive", nil, &got))
	failed := r.waitLetter(t, stream.Consumer, deadletter.StatusFailed)
	require.Equal(t, 1, failed.Redrives)
	require.Greater(t, failed.Attempts, tailLetter.Attempts)
	require.Equal(t, deadletter.StatusDropped, r.waitLetter(t, audience.Consumer, deadletter.StatusDropped).Status,
		"the redrive was for the tail only")
}

// waitCounted waits until the audience consumer fixed b's targeted count:
// it read past everything before b's publication.
func (r *recoveryRun) waitCounted(t *testing.T, b broadcast.Broadcast) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		var st audience.Stats
		require.Equal(t, http.StatusOK, call(t, r.n, r.admin, http.MethodGet, "/api/v1/broadcasts/"+b.ID.String()+"/stats", nil, &st))
		if !st.Counted {
			return fmt.Errorf("the audience of %q is not counted yet", b.Title)
		}
		return nil
	})
}

func (r *recoveryRun) requireMetric(t *testing.T, want string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		resp, err := http.Get(r.n.baseURL + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err == nil && !strings.Contains(string(raw), want) {
			err = fmt.Errorf("/metrics lacks %s", want)
		}
		return err
	})
}

func (r *recoveryRun) retryFailed(t *testing.T) {
	_, err := r.db.Exec(r.e.ctx, `ALTER TABLE outbox ADD CONSTRAINT e2e_refused CHECK (snapshot->>'title' IS DISTINCT FROM 'refused')`)
	require.NoError(t, err)
	b := r.e.create(body("refused", 0, time.Hour))
	testenv.Eventually(t, 30*time.Second, func() error {
		if got := r.e.get(b.ID); got.Status != broadcast.StatusFailed {
			return fmt.Errorf("broadcast is %s, want FAILED", got.Status)
		}
		return nil
	})
	require.Contains(t, r.e.get(b.ID).FailureReason, "e2e_refused")

	_, err = r.db.Exec(r.e.ctx, `ALTER TABLE outbox DROP CONSTRAINT e2e_refused`)
	require.NoError(t, err)
	var retried broadcast.Broadcast
	require.Equal(t, http.StatusOK, r.e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/retry", nil, &retried))
	require.Equal(t, broadcast.StatusScheduled, retried.Status)
	require.Empty(t, retried.FailureReason)
	var refused map[string]any
	require.Equal(t, http.StatusConflict, r.e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/retry", nil, &refused))

	r.await(t, b.ID, broadcast.EventPublished)
	require.Equal(t, broadcast.StatusSent, r.e.get(b.ID).Status)
	// A marker published after it: the topic holds the retried broadcast's
	// publication once, up to there.
	marker := r.e.create(body("marker", 0, time.Hour))
	r.await(t, marker.ID, broadcast.EventPublished)
	published := 0
	for _, ev := range r.e.received {
		if ev.BroadcastID == b.ID && ev.EventType == broadcast.EventPublished {
			published++
		}
	}
	require.Equal(t, 1, published, "published once")
}

// retryFailedAfterPublication: the relay fails a published broadcast whose
// event Kafka refuses for good (store.Fail, as the relay does), while its
// workflow run sleeps until expires_at. The retry terminates that run and
// publishes the broadcast again through a new one.
func (r *recoveryRun) retryFailedAfterPublication(t *testing.T) {
	b := r.e.create(body("failed by the relay", 0, time.Hour))
	r.await(t, b.ID, broadcast.EventPublished)
	pool, err := pgxpool.New(r.e.ctx, r.s.env["DATABASE_URL"])
	require.NoError(t, err)
	defer pool.Close()
	res, err := store.New(pool).Fail(r.e.ctx, b.ID, "Kafka refused the publication event: simulated by TestRecoveryEndToEnd")
	require.NoError(t, err)
	require.True(t, res.Applied)
	temporal, err := client.Dial(client.Options{HostPort: r.s.env["TEMPORAL_ADDRESS"]})
	require.NoError(t, err)
	defer temporal.Close()
	old, err := temporal.DescribeWorkflow(r.e.ctx, b.WorkflowID, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, old.RawResponse.GetWorkflowExecutionInfo().GetStatus(), "the old run waits for expires_at")
	oldRun := old.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId()

	var retried broadcast.Broadcast
	require.Equal(t, http.StatusOK, r.e.call(http.MethodPost, "/api/v1/broadcasts/"+b.ID.String()+"/retry", nil, &retried))
	require.Equal(t, broadcast.StatusScheduled, retried.Status)
	seen := len(r.e.received)
	r.awaitAfter(t, seen, b.ID, broadcast.EventPublished)
	require.Equal(t, broadcast.StatusSent, r.e.get(b.ID).Status)
	ended, err := temporal.DescribeWorkflow(r.e.ctx, b.WorkflowID, oldRun)
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, ended.RawResponse.GetWorkflowExecutionInfo().GetStatus())
	current, err := temporal.DescribeWorkflow(r.e.ctx, b.WorkflowID, "")
	require.NoError(t, err)
	require.NotEqual(t, oldRun, current.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId())
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, current.RawResponse.GetWorkflowExecutionInfo().GetStatus(), "the new run waits for expires_at")
}

// awaitAfter waits for an event of type typ for id among the events read
// after the first seen ones.
func (r *recoveryRun) awaitAfter(t *testing.T, seen int, id uuid.UUID, typ broadcast.EventType) {
	t.Helper()
	for i := seen; ; i++ {
		for i >= len(r.e.received) {
			r.next(t)
		}
		if ev := r.e.received[i]; ev.BroadcastID == id && ev.EventType == typ {
			return
		}
	}
}

// next reads the topic's next event into e.received, passing over poison.
func (r *recoveryRun) next(t *testing.T) {
	t.Helper()
	for {
		select {
		case m := <-r.e.events:
			var ev broadcast.Event
			if json.Unmarshal(m.Value, &ev) == nil {
				r.e.received = append(r.e.received, ev)
				return
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no event on the topic within 30 s")
		}
	}
}

// await is e2e.await for a topic that holds poison: a message that is not
// an event is passed over.
func (r *recoveryRun) await(t *testing.T, id uuid.UUID, typ broadcast.EventType) {
	t.Helper()
	r.awaitAfter(t, 0, id, typ)
}

// header is the value of m's header key.
func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
