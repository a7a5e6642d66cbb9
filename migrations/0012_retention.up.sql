-- Bounded data (issue 12): the maintenance run (workflows.PresenceCleanup,
-- started every minute by the crier-presence-cleanup Temporal Schedule)
-- deletes, in bounded batches, what has outlived its horizon
-- (internal/retention). The deletes of published outbox rows
-- (outbox_published) and of the stream log (stream_events_occurred) use
-- indexes that exist already. Measured with EXPLAIN ANALYZE on 2 million
-- rows a table, 200,000 broadcasts and 4 million deliveries, on a busy
-- 2-core machine. The builds take SHARE locks, so writes to the table wait
-- for them (under a second at those sizes): CONCURRENTLY cannot run inside a
-- migration's transaction.

-- processed_events by age. Without it each batch read and sorted the whole
-- table: 1.06 s and a 76 MB sort on disk for 10,000 rows; with it, 71 ms.
CREATE INDEX IF NOT EXISTS processed_events_processed ON processed_events (processed_at);

-- Broadcasts by their last change: a terminal broadcast's updated_at is when
-- it ended, so a run finds the broadcasts that ended since its mark (below)
-- and deletes their deliveries through deliveries_pkey: 5 ms with nothing to
-- delete, 0.3 to 1.8 s a batch of 10,000 on a backlog.
CREATE INDEX IF NOT EXISTS broadcasts_updated ON broadcasts (updated_at);

-- How far each retention has gone: for deliveries, every broadcast that ended
-- before `through` has had its deliveries deleted. Written in the statement
-- that deletes; one row a table.
CREATE TABLE IF NOT EXISTS retention_marks (
    name    text PRIMARY KEY,
    through timestamptz NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON retention_marks TO crier_app;
