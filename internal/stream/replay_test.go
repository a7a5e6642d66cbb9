package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/testenv"
)

// replayBundle is a server over a fresh database whose stream_events the
// test writes itself, on a topic of one partition.
type replayBundle struct {
	ctx  context.Context
	pool *pgxpool.Pool
	srv  *Server
	next int64 // the next offset to log
}

func setupReplay(t *testing.T) *replayBundle {
	t.Helper()
	pool := testenv.Pool(t)
	return &replayBundle{ctx: context.Background(), pool: pool}
}

// serve starts the server at the log's current end.
func (rb *replayBundle) serve(t *testing.T, cfg Config) {
	t.Helper()
	hub := NewHub()
	hub.start(Position{rb.next - 1})
	cfg.NodeID = "node-replay"
	rb.srv = NewServer(rb.pool, hub, inbox.New(rb.pool, inbox.NewCache(rb.pool)), presence.New(rb.pool),
		NewRecorder(rb.pool, testenv.Logger(t)), cfg)
}

// addBroadcast stores a SENT broadcast with target and content.
func (rb *replayBundle) addBroadcast(t *testing.T, target broadcast.Target, content string) broadcast.Broadcast {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	expires := now.Add(time.Hour)
	b := broadcast.Broadcast{ID: uuid.New(), Status: broadcast.StatusSent, Sender: broadcast.Sender{ID: "admin", Name: "Admin"},
		Title: "title", Content: content, Category: "general", Priority: broadcast.PriorityNormal, Target: target,
		ScheduledAt: &now, ExpiresAt: &expires, PublishedAt: &now, WorkflowID: "wf"}
	_, err := rb.pool.Exec(rb.ctx, `
		INSERT INTO broadcasts (id, status, sender_id, sender_name, title, content, category, priority, target_type, target_ids,
			scheduled_at, expires_at, published_at, workflow_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		b.ID, b.Status, b.Sender.ID, b.Sender.Name, b.Title, b.Content, b.Category, b.Priority, b.Target.Type, b.Target.IDs,
		b.ScheduledAt, b.ExpiresAt, b.PublishedAt, b.WorkflowID)
	require.NoError(t, err)
	return b
}

// log writes copies events to stream_events at the next offsets, occurred
// at, each event as the tail logs it (its value as consumed). Each copy
// gets its own event id and, for reads, the reader "<UserID>-<i>" (i from
// 0), except the first, read by UserID itself.
func (rb *replayBundle) log(t *testing.T, ev broadcast.Event, copies int, at time.Time) {
	t.Helper()
	ev.OccurredAt = at
	payload, err := json.Marshal(ev)
	require.NoError(t, err)
	var user *string
	if ev.UserID != "" {
		user = &ev.UserID
	}
	_, err = rb.pool.Exec(rb.ctx, `
		WITH copies AS (
			SELECT i, gen_random_uuid() AS id, CASE WHEN i = 0 THEN $4 ELSE $4 || '-' || i END AS reader
			FROM generate_series(0, $7 - 1) AS i)
		INSERT INTO stream_events (kafka_partition, kafka_offset, event_id, event_type, broadcast_id, user_id, occurred_at, payload)
		SELECT 0, $1 + i, id, $2, $3, reader, $5,
			CASE WHEN reader IS NULL THEN jsonb_set($6::jsonb, '{event_id}', to_jsonb(id))
			ELSE jsonb_set(jsonb_set($6::jsonb, '{event_id}', to_jsonb(id)), '{user_id}', to_jsonb(reader)) END::json
		FROM copies`,
		rb.next, ev.EventType, ev.BroadcastID, user, at, string(payload), copies)
	require.NoError(t, err)
	rb.next += int64(copies)
}

// catchUp opens a stream for u resuming after lastEventID, as Serve does
// once the client was admitted, and returns what it sent and the bytes the
// process allocated meanwhile.
func (rb *replayBundle) catchUp(t *testing.T, u inbox.User, lastEventID string) (body string, allocated uint64) {
	t.Helper()
	rec := httptest.NewRecorder()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	st, err := rb.srv.start(rb.ctx, newConn(u, 8), lastEventID, &writer{w: rec, rc: http.NewResponseController(rec), timeout: time.Second})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	rb.srv.leave(rb.ctx, st.conn)
	return rec.Body.String(), after.TotalAlloc - before.TotalAlloc
}

// frames splits a stream's body into its events as "name data" lines.
func frames(body string) []string {
	var out []string
	for block := range strings.SplitSeq(body, "\n\n") {
		var name, data string
		for line := range strings.SplitSeq(block, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = v
			}
		}
		if name != "" {
			out = append(out, name+" "+data)
		}
	}
	return out
}

// selected returns a SELECTED target of n made-up users and alice, about
// 14 bytes an id.
func selected(n int) broadcast.Target {
	ids := make([]string, 0, n+1)
	ids = append(ids, "alice")
	for i := range n {
		ids = append(ids, fmt.Sprintf("user-%06d", i))
	}
	return broadcast.Target{Type: broadcast.TargetSelected, IDs: ids}
}

// The finding of issue 10: 300 reads of a 1 MB broadcast (a SELECTED
// target of 75,000 users), then a stream resuming from the beginning. Each
// read event once carried the whole broadcast and replay loaded every
// event of the log, so this one connection allocated 1,085 MiB. Now it
// loads only what concerns alice, and never a broadcast snapshot: it must
// stay under 16 MiB. The read events here are logged as they were before
// the fix, with the snapshot, as old logs and topics still hold them.
func TestReplayOfManyReadsOfALargeBroadcastStaysSmall(t *testing.T) {
	// Not parallel: TotalAlloc counts every goroutine of the process.
	rb := setupReplay(t)
	b := rb.addBroadcast(t, selected(75_000), "hello")
	at := time.Now().UTC()
	published := broadcast.Event{EventID: uuid.New(), EventType: broadcast.EventPublished, BroadcastID: b.ID, Broadcast: b}
	rb.log(t, published, 1, at)
	read := published
	read.EventType, read.UserID = broadcast.EventRead, "alice"
	read.EventID = uuid.New()
	rb.log(t, read, 300, at)
	rb.serve(t, Config{})

	start := time.Now()
	body, allocated := rb.catchUp(t, inbox.User{ID: "alice"}, Position{-1}.String())
	t.Logf("replaying 1 publication and 300 reads of a %d-byte broadcast allocated %d KiB in %s",
		len(strings.Join(b.Target.IDs, `","`)), allocated>>10, time.Since(start).Round(time.Millisecond))

	got := frames(body)
	require.Len(t, got, 2, "the broadcast and alice's own read, not the 299 reads of others")
	require.True(t, strings.HasPrefix(got[0], "broadcast "), got[0])
	require.True(t, strings.HasPrefix(got[1], "read "), got[1])
	require.Contains(t, got[1], b.ID.String())
	require.Less(t, allocated, uint64(16<<20), "one replay allocated %d bytes", allocated)
}
