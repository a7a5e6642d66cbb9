package retention

// The batch deletes, one per table (the stream log's is stream.PruneLog).
// $1 is the horizon in microseconds, compared with the database's clock
// (never a node's), $2 the most rows a statement deletes. Each returns the
// number of rows it deleted. Where SKIP LOCKED is used, a row another
// transaction holds is left to a later batch rather than waited for.
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
	// time of its last transition. retention_marks remembers up to when
	// every such broadcast's deliveries are gone, so a run looks only at the
	// broadcasts that ended since (broadcasts_updated, migration 0012): 5 ms
	// with nothing to delete, where walking every broadcast that still had
	// deliveries took 2.9 s for 200,000 of them (4 million rows), on a busy
	// 2-core machine. The mark moves to the cutoff once a batch finds fewer
	// rows than it may delete, in the same statement; no row is skipped
	// (no SKIP LOCKED: a locked row is waited for), so none is left behind
	// under the mark.
	sqlDeliveries = `
WITH mark AS (
	SELECT coalesce(max(through), '-infinity') AS through FROM retention_marks WHERE name = 'deliveries'
), cutoff AS (
	SELECT now() - $1 * interval '1 microsecond' AS at
), doomed AS (
	SELECT d.broadcast_id, d.user_id
	FROM mark, cutoff, broadcasts b JOIN deliveries d ON d.broadcast_id = b.id
	WHERE b.updated_at >= mark.through AND b.updated_at < cutoff.at AND b.status = ANY($3::text[])
	LIMIT $2
	FOR UPDATE OF d
), deleted AS (
	DELETE FROM deliveries d USING doomed x
	WHERE d.broadcast_id = x.broadcast_id AND d.user_id = x.user_id
	RETURNING 1
), n AS (
	SELECT count(*) AS n FROM deleted
), moved AS (
	INSERT INTO retention_marks (name, through) SELECT 'deliveries', cutoff.at FROM n, cutoff WHERE n.n < $2
	ON CONFLICT (name) DO UPDATE SET through = GREATEST(retention_marks.through, excluded.through)
)
SELECT n FROM n`
)
