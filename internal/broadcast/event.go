package broadcast

import (
	"time"

	"github.com/google/uuid"
)

// EventType names a lifecycle event published to Kafka.
type EventType string

// The lifecycle events.
const (
	EventPublished   EventType = "BROADCAST_PUBLISHED"
	EventCancelled   EventType = "BROADCAST_CANCELLED"
	EventExpired     EventType = "BROADCAST_EXPIRED"
	EventRescheduled EventType = "BROADCAST_RESCHEDULED"
	// EventRead reports that UserID read the broadcast, so the reader's
	// other tabs and devices can mark it read too.
	EventRead EventType = "BROADCAST_READ"
)

// EventTypes lists every event type; a consumer dead-letters an event of
// any other.
var EventTypes = []EventType{EventPublished, EventCancelled, EventExpired, EventRescheduled, EventRead}

// Known reports whether t is one of EventTypes.
func (t EventType) Known() bool {
	for _, known := range EventTypes {
		if t == known {
			return true
		}
	}
	return false
}

// Event is the JSON value of every message on the broadcast topic. Delivery is
// at least once, so consumers drop an event whose EventID they have seen.
type Event struct {
	EventID     uuid.UUID `json:"event_id"`
	EventType   EventType `json:"event_type"`
	BroadcastID uuid.UUID `json:"broadcast_id"`
	OccurredAt  time.Time `json:"occurred_at"`
	// UserID is the reader, for BROADCAST_READ only.
	UserID string `json:"user_id,omitempty"`
	// Broadcast is the broadcast as it stood right after the change the
	// event reports. A BROADCAST_READ has none (it is absent from the JSON):
	// a read is one per reader, and carrying a broadcast of 1 MB (a large
	// SELECTED target) in each made 300 reads cost the topic, the stream
	// log and every replay 300 MB (issue 10). Reads written before still
	// carry one; consumers ignore it.
	Broadcast Broadcast `json:"broadcast,omitzero"`
}
