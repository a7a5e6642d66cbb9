package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
)

// Defaults of Config.ReplayMaxBytes and Config.ReplayWindow.
const (
	// DefaultReplayMaxBytes: a client away for a dropped connection, a node
	// restart or a closed laptop lid has missed a handful of events; 1 MiB
	// is some 15 broadcasts of the largest content (64 KiB) or 5,000 read
	// receipts and retractions. A client further behind reloads its inbox
	// (a paged, bounded request) rather than being replayed more, and a
	// node catching up many clients at once (after another node stopped)
	// reads at most this much for each (1.2 MiB allocated in
	// TestReplayOverTheByteBoundGetsReset).
	DefaultReplayMaxBytes = 1 << 20
	// DefaultReplayWindow: a day covers an evening and a night away; the
	// log it keeps (every node's events, a few hundred bytes a read receipt)
	// stays small.
	DefaultReplayWindow = 24 * time.Hour
)

// eventOverhead is what an event costs a replay beside its content: the
// frame's id (a position of some partitions), name, the ids and times of
// its data.
const eventOverhead = 200

// resetReason says why a stream cannot be replayed what it missed; the
// client is sent a reset event with it and reloads its inbox.
type resetReason string

const (
	// resetTooOld: the stream's position is older than the replay window,
	// or events it missed were pruned from the log.
	resetTooOld resetReason = "too_old"
	// resetTooLarge: what the stream missed is more than one replay sends.
	resetTooLarge resetReason = "too_large"
	// resetUnknown: the Last-Event-ID is not a position of this topic (it
	// was changed, or the id was not one Crier sent).
	resetUnknown resetReason = "unknown_position"
)

// replayQuery is what one replay reads: the events for user after from and
// up to to, bounded by maxBytes and window.
type replayQuery struct {
	user     inbox.User
	from, to Position
	maxBytes int
	window   time.Duration
}

// tooOldSQL reports whether a replay over ranges ($1 partitions, $2 lower,
// $3 upper offsets) would miss events: some were pruned after the lower
// bound, or the first event after it is older than the window ($4 µs).
const tooOldSQL = `
WITH r AS (SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[]) AS r(p, lo, hi))
SELECT EXISTS (
	SELECT 1 FROM r JOIN stream_events_pruned w ON w.kafka_partition = r.p AND w.through_offset > r.lo
) OR EXISTS (
	SELECT 1 FROM r CROSS JOIN LATERAL (
		SELECT e.occurred_at FROM stream_events e
		WHERE e.kafka_partition = r.p AND e.kafka_offset > r.lo AND e.kafka_offset <= r.hi
		ORDER BY e.kafka_offset LIMIT 1) first
	WHERE first.occurred_at < now() - $4 * interval '1 microsecond'
)`

// replaySQL reads, over the same ranges, only the events that concern user
// $4 with roles $5: their own read receipts (index stream_events_reads) and
// the publications, cancellations and expiries of broadcasts targeting
// them (index stream_events_broadcasts). Nobody else's reads are looked at,
// and no event's logged value is: a published broadcast's content comes
// from its row. Each event costs $6 bytes and its content; rows are
// returned up to the first whose running total passes $7, which tells the
// caller the replay is too large without reading any further.
const replaySQL = `
WITH r AS (SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[]) AS r(p, lo, hi)),
mine AS (
	SELECT e.kafka_partition, e.kafka_offset, e.event_id, e.event_type, e.broadcast_id, e.occurred_at, 0 AS content_bytes,
		NULL::int AS wave
	FROM r JOIN stream_events e ON e.kafka_partition = r.p AND e.kafka_offset > r.lo AND e.kafka_offset <= r.hi
	WHERE e.event_type = 'BROADCAST_READ' AND e.user_id = $4
	UNION ALL
	SELECT e.kafka_partition, e.kafka_offset, e.event_id, e.event_type, e.broadcast_id, e.occurred_at,
		CASE WHEN e.event_type = 'BROADCAST_PUBLISHED'
			THEN octet_length(b.title) + octet_length(b.content) + octet_length(b.category) ELSE 0 END,
		CASE WHEN e.event_type = 'BROADCAST_PUBLISHED' AND b.local_time IS NOT NULL
			THEN (e.payload->'broadcast'->>'waves_sent')::int END
	FROM r JOIN stream_events e ON e.kafka_partition = r.p AND e.kafka_offset > r.lo AND e.kafka_offset <= r.hi
	JOIN broadcasts b ON b.id = e.broadcast_id
	WHERE e.event_type IN ('BROADCAST_PUBLISHED', 'BROADCAST_CANCELLED', 'BROADCAST_EXPIRED')
	  AND (b.target_type = 'ALL'
	       OR (b.target_type = 'ROLE' AND b.target_ids && $5::text[])
	       OR (b.target_type = 'SELECTED' AND $4 = ANY (b.target_ids)))
), sized AS (
	SELECT *, sum($6 + content_bytes) OVER (ORDER BY kafka_partition, kafka_offset) AS running,
		$6 + content_bytes AS bytes
	FROM mine
)
SELECT s.kafka_partition, s.kafka_offset, s.event_id, s.event_type, s.broadcast_id, s.occurred_at, s.running,
	b.title, b.content, b.category, b.priority, b.published_at, b.expires_at,
	b.local_time, b.default_time_zone, b.waves, s.wave
FROM sized s
LEFT JOIN broadcasts b ON b.id = s.broadcast_id AND s.event_type = 'BROADCAST_PUBLISHED'
WHERE s.running - s.bytes <= $7
ORDER BY s.kafka_partition, s.kafka_offset`

// replay reads the events q's user missed, in offset order per partition,
// or says why it cannot: the position is too old, or they are too many.
// Both reads share one snapshot, so a prune between them cannot delete
// events unnoticed.
func replay(ctx context.Context, pool *pgxpool.Pool, q replayQuery) (events []Event, reset resetReason, err error) {
	parts := make([]int32, len(q.from))
	lo := make([]int64, len(q.from))
	hi := make([]int64, len(q.from))
	for p := range q.from {
		parts[p], lo[p], hi[p] = int32(p), q.from[p], q.to[p]
	}
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var tooOld bool
		if err := tx.QueryRow(ctx, tooOldSQL, parts, lo, hi, q.window.Microseconds()).Scan(&tooOld); err != nil {
			return err
		}
		if tooOld {
			reset = resetTooOld
			return nil
		}
		rows, err := tx.Query(ctx, replaySQL, parts, lo, hi, q.user.ID, q.user.Roles, eventOverhead, q.maxBytes)
		if err != nil {
			return err
		}
		events, reset, err = collectReplay(rows, q.user.ID, int64(q.maxBytes))
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("replay stream events: %w", err)
	}
	if reset != "" {
		return nil, reset, nil
	}
	return events, "", nil
}

// collectReplay reads replaySQL's rows into events; a row past maxBytes
// makes the replay too large.
func collectReplay(rows pgx.Rows, user string, maxBytes int64) ([]Event, resetReason, error) {
	defer rows.Close()
	var events []Event
	seen := map[uuid.UUID]bool{}
	for rows.Next() {
		var (
			ev      Event
			v       = &ev.Value
			running int64
			content struct {
				title, body, category, priority *string
				published, expires              *time.Time
				local                           *time.Time
				defaultZone                     *string
				waves                           []broadcast.Wave
				wave                            *int32
			}
		)
		if err := rows.Scan(&ev.Partition, &ev.Offset, &v.EventID, &v.EventType, &v.BroadcastID, &v.OccurredAt, &running,
			&content.title, &content.body, &content.category, &content.priority, &content.published, &content.expires,
			&content.local, &content.defaultZone, &content.waves, &content.wave); err != nil {
			return nil, "", err
		}
		if running > maxBytes {
			return nil, resetTooLarge, nil
		}
		if seen[v.EventID] {
			continue // the relay wrote it twice
		}
		seen[v.EventID] = true
		v.OccurredAt = v.OccurredAt.UTC()
		switch {
		case v.EventType == broadcast.EventRead:
			v.UserID = user
		case v.EventType == broadcast.EventPublished && content.title != nil:
			v.Broadcast = broadcast.Broadcast{ID: v.BroadcastID, Title: *content.title, Content: *content.body,
				Category: *content.category, Priority: broadcast.Priority(*content.priority),
				PublishedAt: utc(content.published), ExpiresAt: utc(content.expires)}
			if content.local != nil && content.wave != nil {
				// Which wave this event was, so the stream sends the user
				// only the one that brings them.
				l := broadcast.LocalTimeOf(*content.local)
				v.Broadcast.LocalTime, v.Broadcast.DefaultTimeZone = &l, *content.defaultZone
				v.Broadcast.Waves, v.Broadcast.WavesSent = content.waves, int(*content.wave)
			}
		}
		events = append(events, ev)
	}
	return events, "", rows.Err()
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
