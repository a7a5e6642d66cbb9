package sse

import (
	"bytes"

	"github.com/google/uuid"
)

// Event is what a client needs of one stream event, or of a comment.
type Event struct {
	// Name is the event's name ("broadcast", "retract", "read", "reset",
	// "shutdown"); empty for a comment.
	Name string
	// ID is the event's id: the stream position to resume from with
	// Last-Event-ID. Empty when the event carried none (shutdown).
	ID string
	// Broadcast is the broadcast id the event's data starts with
	// ({"id":"…", as Crier writes it); uuid.Nil when it starts otherwise.
	Broadcast uuid.UUID
	// Comment is a comment line's text ("caught up", "heartbeat").
	Comment string
}

// lineBytes is how much of a line is kept: an id line for a topic of up to
// eight partitions with 19-digit offsets, the data's leading broadcast id,
// an event name or a comment; the rest of a long line (a broadcast's
// content) is skipped.
const lineBytes = 192

// Parser splits a stream into events. Its zero value is ready; it is fed
// the bytes as they are read, in any pieces.
type Parser struct {
	line    [lineBytes]byte
	n       int // bytes of the current line kept (at most lineBytes)
	pending Event
}

var dataIDPrefix = []byte(`data: {"id":"`)

// Feed consumes b and calls emit for each complete event and comment.
func (p *Parser) Feed(b []byte, emit func(Event)) {
	for _, ch := range b {
		if ch != '\n' {
			if p.n < len(p.line) {
				p.line[p.n] = ch
				p.n++
			}
			continue
		}
		line := bytes.TrimSuffix(p.line[:p.n], []byte("\r"))
		p.n = 0
		p.take(line, emit)
	}
}

// take handles one complete line.
func (p *Parser) take(line []byte, emit func(Event)) {
	switch {
	case len(line) == 0:
		if p.pending.Name != "" {
			emit(p.pending)
		}
		p.pending = Event{}
	case line[0] == ':':
		emit(Event{Comment: string(bytes.TrimSpace(line[1:]))})
	case bytes.HasPrefix(line, []byte("event: ")):
		p.pending.Name = string(line[len("event: "):])
	case bytes.HasPrefix(line, []byte("id: ")):
		p.pending.ID = string(line[len("id: "):])
	case bytes.HasPrefix(line, dataIDPrefix) && len(line) >= len(dataIDPrefix)+36:
		id, err := uuid.ParseBytes(line[len(dataIDPrefix) : len(dataIDPrefix)+36])
		if err == nil {
			p.pending.Broadcast = id
		}
	}
}
