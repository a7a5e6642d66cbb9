package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/crier/crier/internal/broadcast"
)

// FuzzLastEventID feeds arbitrary Last-Event-ID headers to parsePosition.
// Whatever it accepts must be a position it could have written: one offset
// per partition, none below -1, and String must give it back unchanged.
func FuzzLastEventID(f *testing.F) {
	f.Fuzz(func(t *testing.T, id string, partitions int8) {
		n := int(partitions)
		p, err := parsePosition(id, n)
		if err != nil {
			if !errors.Is(err, errBadPosition) {
				t.Fatalf("parsePosition(%q, %d) failed with %v, want errBadPosition", id, n, err)
			}
			if p != nil {
				t.Fatalf("parsePosition(%q, %d) failed but returned %v", id, n, p)
			}
			return
		}
		if len(p) != n {
			t.Fatalf("parsePosition(%q, %d) = %v: %d offsets", id, n, p, len(p))
		}
		for i, off := range p {
			if off < -1 {
				t.Fatalf("parsePosition(%q, %d) = %v: offset %d is %d", id, n, p, i, off)
			}
		}
		s := p.String()
		if strings.ContainsAny(s, "\r\n\x00") {
			t.Fatalf("Position.String() = %q: not a valid SSE id", s)
		}
		again, err := parsePosition(s, n)
		if err != nil {
			t.Fatalf("parsePosition(%q) of its own String() failed: %v", s, err)
		}
		if again.String() != s || len(again) != len(p) {
			t.Fatalf("round trip changed the position: %v -> %q -> %v", p, s, again)
		}
		for i := range p {
			if again[i] != p[i] {
				t.Fatalf("round trip changed the position: %v -> %q -> %v", p, s, again)
			}
		}
	})
}

// eventNames are the events a stream sends.
var eventNames = []string{"broadcast", "retract", "read", "shutdown", "reset"}

// FuzzStreamFrame writes a broadcast with arbitrary title, content and
// category as one SSE frame and reads it back as a browser would: it must be
// exactly one event, with the intended name and id, whose data is JSON that
// gives back the strings. A newline or "event:" inside content therefore
// cannot add or change stream fields.
func FuzzStreamFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, title, content, category string, name uint8, off0, off1 int64) {
		pos := Position{max(off0, -1), max(off1, -1)}
		msg := message{ID: uuid.MustParse("019ac8a4-1f7e-7c3a-9d5e-2a1b3c4d5e6f"), Title: title, Content: content,
			Category: category, Priority: broadcast.PriorityHigh}
		checkFrame(t, pos.String(), eventNames[int(name)%len(eventNames)], msg, int(name)%3*500)
	})
}

// sseEvent is one event as an EventSource dispatches it.
type sseEvent struct {
	id, name, data string
	dataLines      int
}

// parseSSE reads a stream as the HTML standard's event-stream parser does:
// lines end at CRLF, LF or CR; a blank line dispatches; a line starting with
// ':' is a comment; "field: value" loses one leading space of the value.
func parseSSE(t *testing.T, raw []byte) []sseEvent {
	t.Helper()
	text := strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\r", "\n")
	if !strings.HasSuffix(text, "\n\n") {
		t.Fatalf("the frame does not end with a blank line: %q", raw)
	}
	var (
		events []sseEvent
		cur    sseEvent
		data   []string
		fields int
	)
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" {
			if fields > 0 {
				cur.data, cur.dataLines = strings.Join(data, "\n"), len(data)
				events = append(events, cur)
			}
			cur, data, fields = sseEvent{}, nil, 0
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		fields++
		switch field {
		case "id":
			cur.id = value
		case "event":
			cur.name = value
		case "data":
			data = append(data, value)
		case "retry":
		default:
			t.Fatalf("the frame has an unknown field %q in line %q: %q", field, line, raw)
		}
	}
	return events
}

// checkFrame writes msg as one event and requires that a client reads back
// exactly that event.
func checkFrame(t *testing.T, id, name string, msg message, retryMillis int) {
	t.Helper()
	rec := httptest.NewRecorder()
	out := &writer{w: rec, rc: http.NewResponseController(rec), timeout: time.Second}
	if err := out.event(id, name, msg, retryMillis); err != nil {
		t.Fatalf("write event: %v", err)
	}
	got := requireOneEvent(t, rec.Body.Bytes(), id, name)
	var decoded message
	dec := json.NewDecoder(strings.NewReader(got.data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&decoded); err != nil {
		t.Fatalf("data is not the message's JSON: %v\n%q", err, got.data)
	}
	for _, f := range []struct{ field, sent, got string }{
		{"title", msg.Title, decoded.Title}, {"content", msg.Content, decoded.Content}, {"category", msg.Category, decoded.Category},
	} {
		if want := jsonString(f.sent); f.got != want {
			t.Fatalf("%s changed on the way: sent %q, client reads %q", f.field, f.sent, f.got)
		}
	}
	if decoded.ID != msg.ID || decoded.Priority != msg.Priority {
		t.Fatalf("the message changed on the way: sent %+v, client reads %+v", msg, decoded)
	}
}

// requireOneEvent parses raw and requires exactly one event, with the given
// id and name and a single data line.
func requireOneEvent(t *testing.T, raw []byte, id, name string) sseEvent {
	t.Helper()
	events := parseSSE(t, raw)
	if len(events) != 1 {
		t.Fatalf("the frame holds %d events, want 1: %q", len(events), raw)
	}
	got := events[0]
	if got.name != name || got.id != id || got.dataLines != 1 {
		t.Fatalf("the client reads event %q id %q with %d data lines, want %q id %q with 1: %q",
			got.name, got.id, got.dataLines, name, id, raw)
	}
	if bytes.ContainsAny([]byte(got.data), "\x00\u2028\u2029") {
		t.Fatalf("data holds a raw NUL or line separator: %q", got.data)
	}
	return got
}

// jsonString is what a JSON client reads for s: encoding/json sends each
// byte of invalid UTF-8 as U+FFFD and everything else as is.
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s) // U+FFFD for a byte of invalid UTF-8
		b.WriteRune(r)
		s = s[size:]
	}
	return b.String()
}

func TestParseSSE(t *testing.T) {
	t.Parallel()
	// The parser itself must see injection, or the fuzz target proves nothing.
	raw := []byte("id: v1:1\nevent: broadcast\ndata: {}\n\nevent: retract\r\ndata: a\rdata: b\n\n: comment\n\n")
	events := parseSSE(t, raw)
	if fmt.Sprint(events) != fmt.Sprint([]sseEvent{{id: "v1:1", name: "broadcast", data: "{}", dataLines: 1},
		{name: "retract", data: "a\nb", dataLines: 2}}) {
		t.Fatalf("parseSSE read %+v", events)
	}
}
