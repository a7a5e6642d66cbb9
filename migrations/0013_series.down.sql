-- The audit log is append-only and hash-chained: entries of the actions
-- removed here stay, so the old constraints are restored NOT VALID (they
-- hold for new entries only).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check,
    ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('broadcast.create', 'broadcast.schedule', 'broadcast.reschedule', 'broadcast.cancel',
                      'broadcast.signal_refused', 'broadcast.retry', 'user.upsert', 'user.import',
                      'dead_letter.redrive', 'dead_letter.drop')) NOT VALID;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_target_type_check,
    ADD CONSTRAINT audit_log_target_type_check CHECK (target_type IN ('broadcast', 'user', 'dead_letter')) NOT VALID;
DROP INDEX broadcasts_series;
ALTER TABLE broadcasts DROP CONSTRAINT broadcasts_occurrence, DROP COLUMN occurrence_at, DROP COLUMN series_id;
DROP TABLE series;
