-- Bounded stream replay (issue 10). A resuming stream reads only the events
-- that concern its user, the log is pruned past the replay window, and a read
-- receipt names the broadcast and the reader, never the broadcast itself.

-- A user's own read receipts, by position: replay never scans other users'.
CREATE INDEX stream_events_reads ON stream_events (user_id, kafka_partition, kafka_offset)
    WHERE event_type = 'BROADCAST_READ';
-- Publications, cancellations and expiries, by position: a few per broadcast,
-- whatever the number of reads logged between them.
CREATE INDEX stream_events_broadcasts ON stream_events (kafka_partition, kafka_offset)
    WHERE event_type IN ('BROADCAST_PUBLISHED', 'BROADCAST_CANCELLED', 'BROADCAST_EXPIRED');

-- The newest offset the pruner deleted, per partition. A stream whose
-- position is below it missed events the log no longer holds: it is told to
-- reload its inbox rather than replayed with a gap. The tail also resumes
-- after it when the partition's logged events are all gone.
CREATE TABLE stream_events_pruned (
    kafka_partition integer PRIMARY KEY,
    through_offset  bigint NOT NULL
);

-- BROADCAST_READ rows carry no snapshot.
ALTER TABLE outbox ALTER COLUMN snapshot DROP NOT NULL;
