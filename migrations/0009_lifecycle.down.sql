-- IN_PROGRESS is allowed again; no row holds it.
ALTER TABLE broadcasts DROP CONSTRAINT broadcasts_status_check,
    ADD CONSTRAINT broadcasts_status_check
    CHECK (status IN ('DRAFT', 'SCHEDULED', 'IN_PROGRESS', 'SENT', 'EXPIRED', 'CANCELLED', 'FAILED'));

-- The audit log is append-only and hash-chained: its broadcast.signal_refused
-- entries stay, so the old constraint is restored NOT VALID (it holds for
-- new entries only).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check,
    ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('broadcast.create', 'broadcast.schedule', 'broadcast.reschedule',
                      'broadcast.cancel', 'user.upsert', 'user.import')) NOT VALID;
