package deadletter

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/segmentio/kafka-go"
)

// Execer runs a statement: a pool, or the transaction a consumer applies a
// message in.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// RedriveOf reads the headers of a message a redrive sent again: the dead
// letter it redrives and the consumer it is for. ok is false for any other
// message.
func RedriveOf(msg kafka.Message) (id uuid.UUID, consumer string, ok bool) {
	raw, found := header(msg, HeaderRedriveOf)
	if !found {
		return uuid.Nil, "", false
	}
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil, "", false
	}
	consumer, _ = header(msg, HeaderRedriveFor)
	return id, consumer, true
}

// ForAnother reports whether msg is a redrive meant for a consumer other
// than consumer, which then skips it: only the consumer that failed a
// message processes it again.
func ForAnother(msg kafka.Message, consumer string) bool {
	_, target, ok := RedriveOf(msg)
	return ok && target != consumer
}

// resolveSQL marks a dead letter processed, from the statuses its
// transitions allow ($2) to RESOLVED ($3).
const resolveSQL = `
UPDATE dead_letters SET status = $3, resolved_at = now(), updated_at = now()
WHERE id = $1 AND status = ANY($2::text[])`

// Resolve records, in q (the transaction that applied msg), that consumer
// processed the redriven copy msg: its dead letter is RESOLVED. Any other
// message changes nothing, so a consumer calls it for every message it
// applies.
func Resolve(ctx context.Context, q Execer, msg kafka.Message, consumer string) error {
	id, target, ok := RedriveOf(msg)
	if !ok || target != consumer {
		return nil
	}
	if _, err := q.Exec(ctx, resolveSQL, append([]any{id}, stepResolve.guard()...)...); err != nil {
		return fmt.Errorf("resolve dead letter %s: %w", id, err)
	}
	return nil
}

// redriven is the copy of a dead letter that a redrive sends to its topic:
// the original key, value and headers, and which dead letter and consumer
// it is for.
func redriven(l Letter, key, value []byte, headers []storedHeader) kafka.Message {
	hs := make([]kafka.Header, 0, len(headers)+2)
	for _, h := range headers {
		hs = append(hs, kafka.Header{Key: h.Key, Value: h.Value})
	}
	hs = append(original(hs),
		kafka.Header{Key: HeaderRedriveOf, Value: []byte(l.ID.String())},
		kafka.Header{Key: HeaderRedriveFor, Value: []byte(l.Consumer)})
	return kafka.Message{Topic: l.Topic, Key: key, Value: value, Headers: hs}
}
