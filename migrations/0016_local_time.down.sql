UPDATE broadcasts SET status = 'SENT' WHERE status = 'IN_PROGRESS';
ALTER TABLE broadcasts DROP CONSTRAINT broadcasts_status_check,
    ADD CONSTRAINT broadcasts_status_check
    CHECK (status IN ('DRAFT', 'SCHEDULED', 'SENT', 'EXPIRED', 'CANCELLED', 'FAILED')),
    DROP COLUMN waves_sent, DROP COLUMN waves, DROP COLUMN default_time_zone, DROP COLUMN local_time;
