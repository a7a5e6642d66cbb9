package config

import (
	"fmt"
	"strings"
	"time"
)

// Retention is how long Crier keeps what grows with traffic. The workers'
// maintenance run deletes rows past the first three horizons
// (internal/retention; the stream log's horizon is SSEReplayWindow), and a
// worker sets Temporal's namespace retention at start. Zero means off: the
// rows are kept, or the namespace's retention is left as an operator set it.
type Retention struct {
	// Outbox keeps events written to Kafka (CRIER_RETAIN_OUTBOX). Events not
	// yet written stay whatever their age.
	Outbox time.Duration
	// ProcessedEvents keeps the audience consumer's record of applied
	// events, which drops redeliveries (CRIER_RETAIN_PROCESSED_EVENTS). It
	// must outlast any redelivery Kafka can still make: a worker warns at
	// start when the topic keeps events longer.
	ProcessedEvents time.Duration
	// Deliveries keeps the per-user rows of broadcasts that ended, and so
	// their delivered and read statistics (CRIER_RETAIN_DELIVERIES).
	Deliveries time.Duration
	// Temporal is the namespace's retention of closed workflows' histories
	// (CRIER_TEMPORAL_RETENTION).
	Temporal time.Duration
}

// Bounds of the retention settings, checked at start. The lower ones are
// low enough for a soak test to watch tables level off in minutes; the
// upper ones catch a slip of the keyboard. Temporal refuses a namespace
// retention under a day.
const (
	minRetain         = time.Minute
	maxRetain         = 10 * 8760 * time.Hour
	minTemporalRetain = 24 * time.Hour
	maxTemporalRetain = 10 * 8760 * time.Hour
)

func (p *parser) retention() Retention {
	return Retention{
		Outbox:          p.horizon("CRIER_RETAIN_OUTBOX", minRetain, maxRetain),
		ProcessedEvents: p.horizon("CRIER_RETAIN_PROCESSED_EVENTS", minRetain, maxRetain),
		Deliveries:      p.horizon("CRIER_RETAIN_DELIVERIES", minRetain, maxRetain),
		Temporal:        p.horizon("CRIER_TEMPORAL_RETENTION", minTemporalRetain, maxTemporalRetain),
	}
}

// horizon reads a duration from lo to hi, or "off" (0).
func (p *parser) horizon(key string, lo, hi time.Duration) time.Duration {
	v := p.value(key)
	if strings.EqualFold(v, "off") {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		p.fail(key, fmt.Sprintf("a duration from %v to %v such as 24h, or off", lo, hi), v)
	}
	return d
}
