-- Delivery at each recipient's local time (issue 13). local_time is the
-- wall-clock time (no zone) a broadcast reaches each recipient at in their
-- own zone, default_time_zone the zone of those whose zone nobody knows;
-- waves is its publication plan (internal/broadcast.Wave as JSON: at, zones),
-- of which waves_sent are sent. A broadcast with waves to send is IN_PROGRESS
-- between its first and its last.
ALTER TABLE broadcasts ADD COLUMN local_time timestamp,
    ADD COLUMN default_time_zone text NOT NULL DEFAULT '',
    ADD COLUMN waves jsonb,
    ADD COLUMN waves_sent integer NOT NULL DEFAULT 0 CHECK (waves_sent >= 0),
    DROP CONSTRAINT broadcasts_status_check,
    ADD CONSTRAINT broadcasts_status_check
    CHECK (status IN ('DRAFT', 'SCHEDULED', 'IN_PROGRESS', 'SENT', 'EXPIRED', 'CANCELLED', 'FAILED'));
