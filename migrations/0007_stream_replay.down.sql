-- The relay before 0007 reads a snapshot from every row; an empty one decodes.
UPDATE outbox SET snapshot = '{}' WHERE snapshot IS NULL;
ALTER TABLE outbox ALTER COLUMN snapshot SET NOT NULL;
DROP TABLE IF EXISTS stream_events_pruned;
DROP INDEX IF EXISTS stream_events_broadcasts;
DROP INDEX IF EXISTS stream_events_reads;
