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
	"github.com/segmentio/kafka-go"
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
	hub := NewHub(HubConfig{})
	hub.start(Position{rb.next - 1})
	cfg.NodeID, cfg.Logger = "node-replay", testenv.Logger(t)
	rb.srv = NewServer(rb.pool, hub, inbox.New(rb.pool, inbox.NewCache(rb.pool, inbox.CacheConfig{})), presence.New(rb.pool),
		NewRecorder(rb.pool, testenv.Logger(t)), cfg)
}

// addBroadcast stores a SENT broadcast with target and content.
func (rb *replayBundle) addBroadcast(t *testing.T, target broadcast.Target, content string) broadcast.Broadcast {
	t.Helper()
	if target.IDs == nil {
		target.IDs = []string{}
	}
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
			CASE WHEN reader IS NULL THEN replace($6, $8, id::text)
			ELSE replace(replace($6, $8, id::text), '"user_id":"' || $4 || '"', '"user_id":"' || reader || '"') END::json
		FROM copies`,
		rb.next, ev.EventType, ev.BroadcastID, user, at, string(payload), copies, ev.EventID.String())
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
	st, m, err := rb.srv.start(rb.ctx, newConn(u, 8), lastEventID)
	require.NoError(t, err)
	st.out = &writer{w: rec, rc: http.NewResponseController(rec), timeout: time.Second}
	err = st.catchUp(m)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	rb.srv.leave(rb.ctx, st.conn)
	return rec.Body.String(), after.TotalAlloc - before.TotalAlloc
}

// frame is one event of a stream's body.
type frame struct{ id, name, data string }

func (f frame) String() string { return f.name + " " + f.data }

// frames splits a stream's body into its events.
func frames(body string) []frame {
	var out []frame
	for block := range strings.SplitSeq(body, "\n\n") {
		var f frame
		for line := range strings.SplitSeq(block, "\n") {
			if v, ok := strings.CutPrefix(line, "id: "); ok {
				f.id = v
			}
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				f.name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				f.data = v
			}
		}
		if f.name != "" {
			out = append(out, f)
		}
	}
	return out
}

// requireReset checks that body is one reset event for reason at the
// server's position.
func (rb *replayBundle) requireReset(t *testing.T, body string, reason resetReason) {
	t.Helper()
	got := frames(body)
	require.Len(t, got, 1, body)
	require.Equal(t, "reset", got[0].name)
	require.Equal(t, Position{rb.next - 1}.String(), got[0].id, "the client resumes from the log's end")
	require.JSONEq(t, `{"reason":"`+string(reason)+`","reload":true}`, got[0].data)
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
	require.Equal(t, "broadcast", got[0].name)
	require.Equal(t, "read", got[1].name)
	require.Contains(t, got[1].data, b.ID.String())
	require.NotContains(t, body, "user-000001", "no target list reaches the client")
	require.Less(t, allocated, uint64(16<<20), "one replay allocated %d bytes", allocated)
}

// event logs one event of b at the next offset.
func (rb *replayBundle) event(t *testing.T, typ broadcast.EventType, b broadcast.Broadcast, reader string, at time.Time) {
	t.Helper()
	ev := broadcast.Event{EventID: uuid.New(), EventType: typ, BroadcastID: b.ID, UserID: reader}
	if typ != broadcast.EventRead {
		ev.Broadcast = b
	}
	rb.log(t, ev, 1, at)
}

// Replay is filtered in SQL: alice (role ops) gets the publications,
// cancellations and expiries of broadcasts targeting her and her own reads,
// never another user's read or a broadcast meant for others, each at its
// own position.
func TestReplaySendsOnlyWhatConcernsTheUser(t *testing.T) {
	t.Parallel()
	rb := setupReplay(t)
	now := time.Now().UTC()
	all := rb.addBroadcast(t, broadcast.Target{Type: broadcast.TargetAll}, "for all")
	ops := rb.addBroadcast(t, broadcast.Target{Type: broadcast.TargetRole, IDs: []string{"ops"}}, "for ops")
	sales := rb.addBroadcast(t, broadcast.Target{Type: broadcast.TargetRole, IDs: []string{"sales"}}, "for sales")
	bobs := rb.addBroadcast(t, broadcast.Target{Type: broadcast.TargetSelected, IDs: []string{"bob"}}, "for bob")
	hers := rb.addBroadcast(t, broadcast.Target{Type: broadcast.TargetSelected, IDs: []string{"bob", "alice"}}, "for her")
	for _, b := range []broadcast.Broadcast{all, ops, sales, bobs, hers} {
		rb.event(t, broadcast.EventPublished, b, "", now) // offsets 0-4
	}
	rb.event(t, broadcast.EventRead, all, "bob", now)      // 5
	rb.event(t, broadcast.EventRead, all, "alice", now)    // 6
	rb.event(t, broadcast.EventCancelled, sales, "", now)  // 7
	rb.event(t, broadcast.EventCancelled, ops, "", now)    // 8
	rb.event(t, broadcast.EventRescheduled, hers, "", now) // 9: never sent
	rb.event(t, broadcast.EventExpired, hers, "", now)     // 10
	rb.event(t, broadcast.EventRead, bobs, "bob", now)     // 11
	rb.serve(t, Config{})
	alice := inbox.User{ID: "alice", Roles: []string{"ops"}}

	body, _ := rb.catchUp(t, alice, Position{-1}.String())
	var got []string
	for _, f := range frames(body) {
		got = append(got, f.id+" "+f.name)
	}
	require.Equal(t, []string{"v1:0 broadcast", "v1:1 broadcast", "v1:4 broadcast", "v1:6 read", "v1:8 retract", "v1:10 retract"}, got)
	sent := frames(body)
	require.Contains(t, sent[0].data, `"content":"for all"`)
	require.Contains(t, sent[3].data, all.ID.String())
	require.JSONEq(t, `{"id":"`+ops.ID.String()+`","reason":"cancelled"}`, sent[4].data)
	require.JSONEq(t, `{"id":"`+hers.ID.String()+`","reason":"expired"}`, sent[5].data)

	body, _ = rb.catchUp(t, alice, Position{6}.String())
	require.Len(t, frames(body), 2, "resuming later sends only what came after: %s", body)
}

// A local-time broadcast is published in waves, one event each: a stream
// resuming from before them all is replayed only the wave that brings its
// user (their zone's, the default zone's for a user without one), never an
// earlier zone's.
func TestReplaySendsEachUserOnlyTheWaveThatBringsThem(t *testing.T) {
	t.Parallel()
	rb := setupReplay(t)
	b := rb.addBroadcast(t, broadcast.Target{Type: broadcast.TargetAll}, "stand-up")
	local, err := broadcast.ParseLocalTime("2027-01-05T09:00")
	require.NoError(t, err)
	b.LocalTime, b.DefaultTimeZone = &local, "Asia/Kolkata"
	kathmandu, kolkata := b.ShownFrom("Asia/Kathmandu"), b.ShownFrom("Asia/Kolkata")
	b.Waves = []broadcast.Wave{{At: kathmandu, Zones: []string{"Asia/Kathmandu"}}, {At: kolkata, Zones: []string{"Asia/Kolkata"}}}
	_, err = rb.pool.Exec(rb.ctx, `UPDATE broadcasts SET local_time = $2, default_time_zone = $3, waves = $4, waves_sent = 2 WHERE id = $1`,
		b.ID, local.Wall(), b.DefaultTimeZone, b.Waves)
	require.NoError(t, err)
	for sent := 1; sent <= 2; sent++ { // offsets 0 and 1
		b.WavesSent = sent
		rb.event(t, broadcast.EventPublished, b, "", b.Waves[sent-1].At)
	}
	rb.serve(t, Config{})

	for zone, want := range map[string]string{"Asia/Kathmandu": "v1:0", "Asia/Kolkata": "v1:1", "": "v1:1", "Not/AZone": "v1:1"} {
		body, _ := rb.catchUp(t, inbox.User{ID: "alice", TimeZone: zone}, Position{-1}.String())
		got := frames(body)
		require.Len(t, got, 1, "zone %q: %s", zone, body)
		require.Equal(t, want, got[0].id, "zone %q", zone)
		require.Contains(t, got[0].data, `"content":"stand-up"`)
	}
	body, _ := rb.catchUp(t, inbox.User{ID: "alice", TimeZone: "Asia/Kathmandu"}, Position{0}.String())
	require.Empty(t, frames(body), "Kathmandu's wave was sent before it resumed; the later one is not for it")
}

// A position older than the window gets a reset rather than a replay:
// before the prune (its first missed event is too old) and after it (the
// events it missed are gone). A position after the pruned events replays.
func TestReplayOfAPositionOlderThanTheWindowGetsReset(t *testing.T) {
	t.Parallel()
	rb := setupReplay(t)
	all := rb.addBroadcast(t, broadcast.Target{Type: broadcast.TargetAll}, "for all")
	rb.event(t, broadcast.EventPublished, all, "", time.Now().Add(-25*time.Hour)) // 0
	rb.event(t, broadcast.EventRead, all, "alice", time.Now())                    // 1
	rb.serve(t, Config{ReplayWindow: 24 * time.Hour})
	alice := inbox.User{ID: "alice"}

	body, _ := rb.catchUp(t, alice, Position{-1}.String())
	rb.requireReset(t, body, resetTooOld)

	deleted, err := PruneLog(rb.ctx, rb.pool, 24*time.Hour, 10)
	require.NoError(t, err)
	require.EqualValues(t, 1, deleted)
	body, _ = rb.catchUp(t, alice, Position{-1}.String())
	rb.requireReset(t, body, resetTooOld)

	body, _ = rb.catchUp(t, alice, Position{0}.String())
	got := frames(body)
	require.Len(t, got, 1)
	require.Equal(t, "read", got[0].name)
}

// A Last-Event-ID that is no position of this topic gets a reset too.
func TestReplayOfAnUnknownPositionGetsReset(t *testing.T) {
	t.Parallel()
	rb := setupReplay(t)
	rb.serve(t, Config{})
	for _, id := range []string{"v1:3.4", "made-up"} {
		body, _ := rb.catchUp(t, inbox.User{ID: "alice"}, id)
		rb.requireReset(t, body, resetUnknown)
	}
}

// What a client missed beyond ReplayMaxBytes is not replayed: it gets a
// reset, and the replay stops reading at the bound.
func TestReplayOverTheByteBoundGetsReset(t *testing.T) {
	// Not parallel: TotalAlloc counts every goroutine of the process.
	rb := setupReplay(t)
	content := strings.Repeat("x", broadcast.MaxContentBytes)
	for range 40 { // 2.5 MiB
		rb.event(t, broadcast.EventPublished, rb.addBroadcast(t, broadcast.Target{Type: broadcast.TargetAll}, content), "", time.Now())
	}
	rb.serve(t, Config{ReplayMaxBytes: 1 << 20})
	body, allocated := rb.catchUp(t, inbox.User{ID: "alice"}, Position{-1}.String())
	rb.requireReset(t, body, resetTooLarge)
	t.Logf("a replay past its bound allocated %d KiB", allocated>>10)
	require.Less(t, allocated, uint64(16<<20))

	rb.serve(t, Config{ReplayMaxBytes: 4 << 20})
	body, _ = rb.catchUp(t, inbox.User{ID: "alice"}, Position{-1}.String())
	require.Len(t, frames(body), 40, "under a larger bound it is replayed")
}

// PruneLog deletes, a bounded batch at a time, what is older than the
// window, keeps the rest, and marks per partition how far it deleted; the
// tail resumes after that mark when nothing of a partition is left.
func TestPruneLogDeletesOldEventsAndMarksWhereItStopped(t *testing.T) {
	t.Parallel()
	rb := setupReplay(t)
	const old = 12_345 // more than two batches
	_, err := rb.pool.Exec(rb.ctx, `
		INSERT INTO stream_events (kafka_partition, kafka_offset, event_id, event_type, broadcast_id, occurred_at, payload)
		SELECT i % 2, i, gen_random_uuid(), 'BROADCAST_EXPIRED', gen_random_uuid(), now() - interval '2 days', '{}'
		FROM generate_series(0, $1 - 1) AS i`, old)
	require.NoError(t, err)
	_, err = rb.pool.Exec(rb.ctx, `
		INSERT INTO stream_events (kafka_partition, kafka_offset, event_id, event_type, broadcast_id, occurred_at, payload)
		VALUES (1, $1, gen_random_uuid(), 'BROADCAST_EXPIRED', gen_random_uuid(), now(), '{}')`, old)
	require.NoError(t, err)

	const batch = 5000
	var deleted []int64
	for {
		n, err := PruneLog(rb.ctx, rb.pool, 24*time.Hour, batch)
		require.NoError(t, err)
		deleted = append(deleted, n)
		if n < batch {
			break
		}
	}
	require.Equal(t, []int64{batch, batch, old - 2*batch}, deleted, "bounded batches, oldest first, until none is left")
	n, err := PruneLog(rb.ctx, rb.pool, 24*time.Hour, batch)
	require.NoError(t, err)
	require.Zero(t, n, "a further prune finds nothing")
	_, err = PruneLog(rb.ctx, rb.pool, 0, batch)
	require.ErrorContains(t, err, "must be positive", "a zero window would delete the whole log")

	var left int
	require.NoError(t, rb.pool.QueryRow(rb.ctx, `SELECT count(*) FROM stream_events`).Scan(&left))
	require.Equal(t, 1, left, "the young event stays")
	start, err := NewTail(rb.pool, NewHub(HubConfig{}), TailConfig{}).startOffsets(rb.ctx, []kafka.Partition{{ID: 0}, {ID: 1}})
	require.NoError(t, err)
	require.Equal(t, map[int]int64{0: old, 1: old + 1}, start,
		"partition 0 (all pruned, up to offset 12,344) resumes after its mark, partition 1 after its young event")
}
