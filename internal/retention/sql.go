package retention

// The batch deletes, one per table. $1 is the horizon in microseconds,
// compared with the database's clock (never a node's), $2 the most rows a
// statement deletes. Each returns the number of rows it deleted. SKIP
// LOCKED leaves a row another transaction holds to a later batch rather
// than waiting for it.
const (
	// sqlOutbox deletes published rows, oldest first, through the partial
	// index outbox_published. A row not yet published (published_at NULL,
	// pending or failed) is never a candidate.
	sqlOutbox = `
WITH doomed AS (
	SELECT id FROM outbox
	WHERE published_at < now() - $1 * interval '1 microsecond'
	ORDER BY published_at
	LIMIT $2
	FOR UPDATE SKIP LOCKED
), deleted AS (
	DELETE FROM outbox o USING doomed d WHERE o.id = d.id RETURNING 1
)
SELECT count(*) FROM deleted`

	// sqlProcessedEvents deletes the record of events applied long ago,
	// oldest first, through processed_events_processed (migration 0012).
	sqlProcessedEvents = `
WITH doomed AS (
	SELECT consumer, event_id FROM processed_events
	WHERE processed_at < now() - $1 * interval '1 microsecond'
	ORDER BY processed_at
	LIMIT $2
	FOR UPDATE SKIP LOCKED
), deleted AS (
	DELETE FROM processed_events p USING doomed d
	WHERE p.consumer = d.consumer AND p.event_id = d.event_id
	RETURNING 1
)
SELECT count(*) FROM deleted`

	// sqlDeliveries deletes the deliveries of broadcasts that ended (a
	// status no transition leaves, $3, read from broadcast.Transitions)
	// longer ago than the horizon: a terminal broadcast's updated_at is the
	// time of its last transition. It walks the broadcasts that still have
	// deliveries one at a time along deliveries_pkey (a loose index scan,
	// evaluated only as far as the LIMIT needs), so its cost follows the
	// deliveries kept, never the whole history of broadcasts: 184 ms for a
	// batch of 10,000, and 2.5 s to find nothing among 200,000 broadcasts
	// holding 4 million deliveries, on a busy 2-core machine.
	sqlDeliveries = `
WITH RECURSIVE ids(id) AS (
	(SELECT broadcast_id FROM deliveries ORDER BY broadcast_id LIMIT 1)
	UNION ALL
	SELECT (SELECT d.broadcast_id FROM deliveries d WHERE d.broadcast_id > ids.id ORDER BY d.broadcast_id LIMIT 1)
	FROM ids WHERE ids.id IS NOT NULL
), doomed AS (
	SELECT d.broadcast_id, d.user_id FROM ids
	JOIN broadcasts b ON b.id = ids.id
	JOIN deliveries d ON d.broadcast_id = b.id
	WHERE b.status = ANY($3::text[]) AND b.updated_at < now() - $1 * interval '1 microsecond'
	LIMIT $2
	FOR UPDATE OF d SKIP LOCKED
), deleted AS (
	DELETE FROM deliveries d USING doomed x
	WHERE d.broadcast_id = x.broadcast_id AND d.user_id = x.user_id
	RETURNING 1
)
SELECT count(*) FROM deleted`
)
