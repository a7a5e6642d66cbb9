ALTER TABLE stream_tickets DROP COLUMN IF EXISTS token_expires_at;
