package deadletter

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
)

// DefaultTopic is the dead-letter topic unless CRIER_KAFKA_DEAD_LETTER_TOPIC
// names another.
const DefaultTopic = "broadcast_messages.dead_letters"

// Headers a dead letter carries on the dead-letter topic, beside the
// original message's own: which consumer failed it, where it was, why, and
// when.
const (
	HeaderID        = "dead_letter_id"
	HeaderConsumer  = "dead_letter_consumer"
	HeaderTopic     = "dead_letter_topic"
	HeaderPartition = "dead_letter_partition"
	HeaderOffset    = "dead_letter_offset"
	HeaderReason    = "dead_letter_reason"
	HeaderError     = "dead_letter_error"
	HeaderAttempts  = "dead_letter_attempts"
	HeaderAt        = "dead_letter_at"
	// HeaderRedriveOf marks a message a redrive sent again: the id of its
	// dead letter.
	HeaderRedriveOf = "redrive_of"
	// HeaderRedriveFor names the one consumer a redriven message is for;
	// the others skip it.
	HeaderRedriveFor = "redrive_for"
)

// maxErrorBytes bounds the error text kept with a dead letter.
const maxErrorBytes = 2048

// idNamespace derives dead letter ids from their consumer and position.
var idNamespace = uuid.MustParse("2f1b8c3e-7a4d-4e0b-9c61-5d8e2a7f4b10")

// ID is the id of the dead letter of the message at (topic, partition,
// offset) for consumer. It is derived, not drawn, so every API node whose
// stream tail dead-letters the same message names the same dead letter, and
// a message read again finds the one it made before.
func ID(consumer, topic string, partition int, offset int64) uuid.UUID {
	return uuid.NewSHA1(idNamespace, fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d", consumer, topic, partition, offset))
}

// Letter is a dead letter as admins see it.
type Letter struct {
	ID       uuid.UUID `json:"id"`
	Consumer string    `json:"consumer"`
	Status   Status    `json:"status"`
	// Topic, Partition and Offset are where the consumer read the message
	// (the original, not a redriven copy).
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	Reason    Reason `json:"reason"`
	// Error is the last failure's text.
	Error string `json:"error"`
	// Attempts counts every attempt to process it, redrives included.
	Attempts int `json:"attempts"`
	// Redrives counts the redrives admins asked for.
	Redrives   int        `json:"redrives"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FailedAt   time.Time  `json:"failed_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	DroppedAt  *time.Time `json:"dropped_at"`
	// Message is the message itself: only when one dead letter is read.
	Message *Message `json:"message,omitempty"`
}

// Message is a dead-lettered message as consumed.
type Message struct {
	// Encoding is "utf-8" when the key, value and every header value are
	// valid UTF-8 and shown as they are, else "base64" and all are base64.
	Encoding string   `json:"encoding"`
	Key      string   `json:"key"`
	Value    string   `json:"value"`
	Headers  []Header `json:"headers"`
}

// Header is one Kafka header of a message.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// storedHeader is a header as the table keeps it (the value as base64 JSON).
type storedHeader struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

func storedHeaders(hs []kafka.Header) []storedHeader {
	out := make([]storedHeader, len(hs))
	for i, h := range hs {
		out[i] = storedHeader{Key: h.Key, Value: h.Value}
	}
	return out
}

// newMessage is the API's view of a stored message.
func newMessage(key, value []byte, headers []storedHeader) *Message {
	text := utf8.Valid(key) && utf8.Valid(value)
	for _, h := range headers {
		text = text && utf8.Valid(h.Value)
	}
	show := func(b []byte) string { return string(b) }
	m := &Message{Encoding: "utf-8", Headers: make([]Header, len(headers))}
	if !text {
		m.Encoding, show = "base64", base64.StdEncoding.EncodeToString
	}
	m.Key, m.Value = show(key), show(value)
	for i, h := range headers {
		m.Headers[i] = Header{Key: h.Key, Value: show(h.Value)}
	}
	return m
}

// original is msg's headers without those a dead-lettering or a redrive
// added: the headers the message was first produced with.
func original(hs []kafka.Header) []kafka.Header {
	out := make([]kafka.Header, 0, len(hs))
	for _, h := range hs {
		if !strings.HasPrefix(h.Key, "dead_letter_") && h.Key != HeaderRedriveOf && h.Key != HeaderRedriveFor {
			out = append(out, h)
		}
	}
	return out
}

// header is the value of msg's first header named key, if any.
func header(msg kafka.Message, key string) (string, bool) {
	for _, h := range msg.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// cutError is err's text, cut to maxErrorBytes on a rune boundary.
func cutError(err error) string {
	s := err.Error()
	if len(s) <= maxErrorBytes {
		return s
	}
	cut := maxErrorBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
