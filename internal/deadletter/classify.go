package deadletter

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Reason is the class of a failure no retry fixes. It labels
// crier_dead_letters_total, so it is one of a small fixed set.
type Reason string

// The reasons.
const (
	// ReasonUndecodable is a message whose value is not an event.
	ReasonUndecodable Reason = "undecodable"
	// ReasonUnknownType is an event of a type the consumer does not know.
	ReasonUnknownType Reason = "unknown_type"
	// ReasonInvalid is an event missing what the consumer needs (its id,
	// its broadcast, its type).
	ReasonInvalid Reason = "invalid_event"
	// ReasonData is PostgreSQL refusing the data itself: a data exception,
	// an integrity violation or a program limit (SQLSTATE classes 22, 23,
	// 54).
	ReasonData Reason = "data"
	// ReasonPanic is the consumer's code panicking on the message.
	ReasonPanic Reason = "panic"
)

// Reasons lists every reason.
var Reasons = []Reason{ReasonUndecodable, ReasonUnknownType, ReasonInvalid, ReasonData, ReasonPanic}

// Error is a failure no retry fixes, with its reason.
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the failure itself.
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as a failure no retry fixes, for reason.
func Permanent(reason Reason, err error) error { return &Error{Reason: reason, Err: err} }

// Classify reports whether err is permanent, and why. What is not known to
// be permanent is transient: PostgreSQL or Kafka unavailable, a timeout, a
// serialization failure or deadlock (SQLSTATE 40), a missing table during a
// migration. An outage must delay a consumer, never fill the dead-letter
// topic.
func Classify(err error) (Reason, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason, true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) >= 2 {
		switch pgErr.Code[:2] {
		case "22", "23", "54":
			return ReasonData, true
		}
	}
	return "", false
}

// Protect runs fn and turns a panic in it into a permanent failure, so a bug
// that crashes on one message dead-letters that message instead of the
// process (which would read the message again, and crash again).
func Protect(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(ReasonPanic, fmt.Errorf("panic: %v", r))
		}
	}()
	return fn()
}
