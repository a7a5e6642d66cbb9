DROP TABLE IF EXISTS retention_marks;
DROP INDEX IF EXISTS broadcasts_updated;
DROP INDEX IF EXISTS processed_events_processed;
