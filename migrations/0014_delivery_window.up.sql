-- Send windows (issue 13): when a broadcast, or each occurrence of a series,
-- may be published (internal/window.Window as JSON: days, from, to,
-- time_zone). A broadcast's scheduled_at is then the effective time, the
-- window's next opening at or after the time asked for; NULL is no window.
ALTER TABLE broadcasts ADD COLUMN delivery_window jsonb;
ALTER TABLE series ADD COLUMN delivery_window jsonb;
