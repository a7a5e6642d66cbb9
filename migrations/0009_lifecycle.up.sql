-- The lifecycle as internal/broadcast/lifecycle.go defines it (issue 11).

-- IN_PROGRESS is gone: publication is one statement, so no broadcast ever
-- stood in it. Should a row hold it anyway, this fails rather than guess
-- where that broadcast stands.
ALTER TABLE broadcasts DROP CONSTRAINT broadcasts_status_check,
    ADD CONSTRAINT broadcasts_status_check
    CHECK (status IN ('DRAFT', 'SCHEDULED', 'SENT', 'EXPIRED', 'CANCELLED', 'FAILED'));

-- broadcast.signal_refused: a cancel or reschedule signal the workflow
-- refused, recorded with its reason in detail (actor temporal-signal).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check,
    ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('broadcast.create', 'broadcast.schedule', 'broadcast.reschedule', 'broadcast.cancel',
                      'broadcast.signal_refused', 'user.upsert', 'user.import'));
