package presence

// The statements of the store, in one place. Ages are passed in microseconds
// ($n * interval '1 microsecond') and compared with the database's clock,
// never a node's, so nodes with skewed clocks agree on what is stale.
const (
	sqlRegister = `
INSERT INTO connections (id, node_id, user_id) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET node_id = excluded.node_id, last_seen_at = now()`

	// sqlLockUser serialises admissions of one user ($1) until the
	// transaction ends. The key is namespaced so it never meets the
	// broadcast locks of the store (hashtextextended of a broadcast id).
	sqlLockUser = `SELECT pg_advisory_xact_lock(hashtextextended('crier.stream-user:' || $1, 0))`

	// sqlAdmit inserts connection ($1, $2, $3) only while user $3 holds
	// fewer than $5 live connections; run it under sqlLockUser.
	sqlAdmit = `
INSERT INTO connections (id, node_id, user_id)
SELECT $1::uuid, $2::text, $3::text
WHERE (SELECT count(*) FROM connections
       WHERE user_id = $3::text AND last_seen_at >= now() - $4 * interval '1 microsecond') < $5`

	sqlUnregister = `DELETE FROM connections WHERE id = $1`

	sqlTouch = `UPDATE connections SET last_seen_at = now() WHERE node_id = $1`

	sqlRemoveNode = `DELETE FROM connections WHERE node_id = $1`

	// sqlRemoveStale deletes at most $2 stale rows; SKIP LOCKED leaves rows a
	// Touch is refreshing right now to the next batch, which sees them fresh.
	sqlRemoveStale = `
DELETE FROM connections WHERE id IN (
	SELECT id FROM connections
	WHERE last_seen_at < now() - $1 * interval '1 microsecond'
	LIMIT $2
	FOR UPDATE SKIP LOCKED
)`

	// sqlTotals counts live connections and their distinct users, and reads
	// the clock the summary is taken at.
	sqlTotals = `
SELECT count(*), count(DISTINCT user_id), now() FROM connections
WHERE last_seen_at >= now() - $1 * interval '1 microsecond'`

	// sqlNodes describes every node that has rows, live or not.
	sqlNodes = `
SELECT node_id, count(*), count(DISTINCT user_id), max(last_seen_at),
	max(last_seen_at) < now() - $1 * interval '1 microsecond'
FROM connections
GROUP BY node_id
ORDER BY node_id`
)
