package stream

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
)

// hostileStrings are contents that would break a stream, a page or a log
// if they were not encoded; the fuzz corpora in testdata/fuzz hold the same.
var hostileStrings = []struct{ name, s string }{
	{"newline", "line one\nline two"},
	{"sse injection", "\n\nevent: retract\ndata: {}\n\n"},
	{"sse event and data", "\nevent: x\ndata: y"},
	{"sse crlf fields", "\r\nid: v1:999\r\nevent: read\r\n\r\n"},
	{"sse cr data", "\rdata: {\"id\":\"x\"}\r\r"},
	{"data field", "data: injected"},
	{"comments", ": not a comment\n: a comment"},
	{"script end", "</script><script>alert(1)</script>"},
	{"quotes", `"quoted" 'single' \backslash\ & <b>bold</b>`},
	{"markup", "<img src=x onerror=alert(1)>"},
	{"control chars", "tab\tvertical\vform\fbell\abackspace\bescape\x1bdel\x7f"},
	{"nul", "nul\x00byte"},
	{"invalid utf-8", "\xff\xfe invalid UTF-8 \xc3\x28"},
	{"line separators", "line\u2028separator\u2029paragraph"},
	{"rtl override", "right-to-left \u202eoverride\u202c and \u2066isolate\u2069"},
	{"zero width", "zero\u200bwidth\ufeffbom"},
	{"emoji", "emoji 🎉👩‍👩‍👧 and flags 🇫🇷"},
	{"escaped already", "\\u003cscript\\u003e already escaped"},
	{"70 KB", strings.Repeat("x", 70_000)},
}

// A title or content holding stream syntax, markup or odd characters goes
// out as one event of the right name whose JSON gives it back exactly.
func TestStreamFrameCarriesHostileContentAsData(t *testing.T) {
	t.Parallel()
	for _, h := range hostileStrings {
		s := h.s
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range eventNames {
				checkFrame(t, Position{41, -1}.String(), name, message{ID: uuid.New(), Title: s, Content: s, Category: s,
					Priority: broadcast.PriorityUrgent}, 0)
			}
		})
	}
}

// The same through a session: a published broadcast with hostile content
// reaches the client as one "broadcast" event, and its retraction as one
// "retract" event, each at the position the event advanced to.
func TestSessionSendsHostileBroadcastAsOneEvent(t *testing.T) {
	t.Parallel()
	for i, h := range hostileStrings {
		s := h.s
		rec := httptest.NewRecorder()
		st := &session{
			s:    &Server{recorder: NewRecorder(nil, slog.New(slog.DiscardHandler)), log: slog.New(slog.DiscardHandler)},
			out:  &writer{w: rec, rc: http.NewResponseController(rec), timeout: time.Second},
			user: inbox.User{ID: "alice", Roles: []string{"ops"}},
			pos:  Position{-1, -1},
			sent: map[uuid.UUID]bool{},
		}
		published := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		b := broadcast.Broadcast{ID: uuid.New(), Status: broadcast.StatusSent, Title: s, Content: s, Category: "general",
			Priority: broadcast.PriorityHigh, Target: broadcast.Target{Type: broadcast.TargetRole, IDs: []string{"ops"}},
			PublishedAt: &published}
		require.NoError(t, st.send(&Event{Partition: 1, Offset: int64(i), Value: broadcast.Event{EventID: uuid.New(),
			EventType: broadcast.EventPublished, BroadcastID: b.ID, Broadcast: b}}))
		got := requireOneEvent(t, rec.Body.Bytes(), Position{-1, int64(i)}.String(), "broadcast")
		var msg message
		require.NoError(t, json.Unmarshal([]byte(got.data), &msg))
		require.Equal(t, jsonString(s), msg.Title)
		require.Equal(t, jsonString(s), msg.Content)
		require.Equal(t, b.ID, msg.ID)
		if strings.Contains(s, "<") {
			require.Contains(t, got.data, `\u003c`, "markup goes out escaped")
			require.NotContains(t, got.data, "<")
		}

		rec.Body.Reset()
		require.NoError(t, st.send(&Event{Partition: 0, Offset: 3, Value: broadcast.Event{EventID: uuid.New(),
			EventType: broadcast.EventCancelled, BroadcastID: b.ID, Broadcast: b}}))
		got = requireOneEvent(t, rec.Body.Bytes(), Position{3, int64(i)}.String(), "retract")
		require.JSONEq(t, `{"id":"`+b.ID.String()+`","reason":"cancelled"}`, got.data)
	}
}
