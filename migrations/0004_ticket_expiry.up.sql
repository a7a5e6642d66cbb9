-- A stream opened with a ticket ends when the token that asked for the
-- ticket expires, as one opened with the token itself does.
ALTER TABLE stream_tickets ADD COLUMN token_expires_at timestamptz;
