package stream

import (
	"errors"
	"strconv"
	"strings"
)

// Position is an offset per partition: the last event a client received
// from each (-1: none yet). Offsets are Kafka's, so they only grow.
type Position []int64

// positionPrefix versions the id format, so a later change can tell old ids.
const positionPrefix = "v1:"

// errBadPosition means a Last-Event-ID that this stream did not produce.
var errBadPosition = errors.New("Last-Event-ID is not one this stream sent")

// String encodes p as an SSE event id, e.g. "v1:41.-1.7".
func (p Position) String() string {
	var b strings.Builder
	b.WriteString(positionPrefix)
	for i, off := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatInt(off, 10))
	}
	return b.String()
}

// Clone returns a copy of p.
func (p Position) Clone() Position { return append(Position(nil), p...) }

// advance records that the event at (partition, offset) was delivered.
func (p Position) advance(partition int, offset int64) {
	if partition < len(p) && offset > p[partition] {
		p[partition] = offset
	}
}

// parsePosition reads an id produced by String for a topic with the given
// number of partitions.
func parsePosition(id string, partitions int) (Position, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(id), positionPrefix)
	if !ok || len(rest) > 20*partitions+partitions {
		return nil, errBadPosition
	}
	fields := strings.Split(rest, ".")
	if len(fields) != partitions {
		return nil, errBadPosition
	}
	p := make(Position, partitions)
	for i, f := range fields {
		off, err := strconv.ParseInt(f, 10, 64)
		if err != nil || off < -1 {
			return nil, errBadPosition
		}
		p[i] = off
	}
	return p, nil
}
