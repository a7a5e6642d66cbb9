package stream

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// maxReplay bounds one replay; a client further behind gets its unread inbox
// instead.
const maxReplay = 10_000

// replay reads the logged events after from and up to to, in offset order
// per partition. complete is false when there are more than maxReplay.
func replay(ctx context.Context, pool *pgxpool.Pool, from, to Position) (events []Event, complete bool, err error) {
	parts := make([]int32, len(from))
	lo := make([]int64, len(from))
	hi := make([]int64, len(from))
	for p := range from {
		parts[p], lo[p], hi[p] = int32(p), from[p], to[p]
	}
	rows, err := pool.Query(ctx, `
		SELECT e.kafka_partition, e.kafka_offset, e.payload::text
		FROM unnest($1::int[], $2::bigint[], $3::bigint[]) AS r(p, lo, hi)
		JOIN stream_events e ON e.kafka_partition = r.p AND e.kafka_offset > r.lo AND e.kafka_offset <= r.hi
		ORDER BY e.kafka_partition, e.kafka_offset
		LIMIT $4`, parts, lo, hi, maxReplay+1)
	if err != nil {
		return nil, false, fmt.Errorf("replay stream events: %w", err)
	}
	defer rows.Close()
	seen := map[uuid.UUID]bool{}
	for rows.Next() {
		var (
			ev      Event
			payload string
		)
		if err := rows.Scan(&ev.Partition, &ev.Offset, &payload); err != nil {
			return nil, false, fmt.Errorf("replay stream events: %w", err)
		}
		if err := json.Unmarshal([]byte(payload), &ev.Value); err != nil || seen[ev.Value.EventID] {
			continue // not an event a stream sends, or one the relay wrote twice
		}
		seen[ev.Value.EventID] = true
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("replay stream events: %w", err)
	}
	if len(events) > maxReplay {
		return nil, false, nil
	}
	return events, true, nil
}
