ALTER TABLE broadcasts DROP COLUMN IF EXISTS trace_context;
DROP INDEX IF EXISTS broadcasts_sent_expiry;
