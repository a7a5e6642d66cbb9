ALTER TABLE outbox DROP COLUMN IF EXISTS user_id;
DROP TABLE IF EXISTS stream_tickets;
DROP TABLE IF EXISTS connections;
DROP TABLE IF EXISTS stream_events;
DROP TABLE IF EXISTS processed_events;
DROP TABLE IF EXISTS broadcast_stats;
DROP TABLE IF EXISTS users;
