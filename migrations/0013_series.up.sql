-- Series (issue 13): recurring broadcasts. Each series is one Temporal
-- Schedule (schedule_id) whose actions make its occurrences: ordinary
-- broadcasts, with series_id and occurrence_at set, whose ids are derived
-- from the series and the occurrence's key (internal/series), so a retried
-- action never makes two. The row holds the template the next occurrence
-- is made from: a PATCH changes the occurrences not yet made, never the
-- ones already made.
CREATE TABLE series (
    id                 uuid PRIMARY KEY,
    status             text NOT NULL CHECK (status IN ('ACTIVE', 'PAUSED', 'CANCELLED', 'ENDED')),
    sender_id          text NOT NULL,
    sender_name        text NOT NULL,
    title              text NOT NULL,
    content            text NOT NULL,
    category           text NOT NULL,
    priority           text NOT NULL CHECK (priority IN ('LOW', 'NORMAL', 'HIGH', 'URGENT')),
    target_type        text NOT NULL CHECK (target_type IN ('ALL', 'ROLE', 'SELECTED')),
    target_ids         text[] NOT NULL DEFAULT '{}',
    -- internal/series.Recurrence as JSON: cron or every, time_zone,
    -- starts_at, ends_at, count.
    recurrence         jsonb NOT NULL,
    -- Each occurrence's lifetime: it expires this long after it is due.
    expires_after      interval NOT NULL CHECK (expires_after > interval '0'),
    schedule_id        text NOT NULL UNIQUE,
    -- Occurrences made, and those skipped because they came later than the
    -- catch-up window allows (never sent late without saying so).
    occurrences        integer NOT NULL DEFAULT 0,
    last_occurrence_at timestamptz,
    skipped            integer NOT NULL DEFAULT 0,
    last_skipped_at    timestamptz,
    request_hash       bytea,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    cancelled_at       timestamptz,
    ended_at           timestamptz
);

-- Admin listing: newest first, with keyset paging.
CREATE INDEX series_created ON series (created_at DESC, id DESC);

ALTER TABLE broadcasts
    ADD COLUMN series_id     uuid REFERENCES series (id),
    ADD COLUMN occurrence_at timestamptz,
    ADD CONSTRAINT broadcasts_occurrence CHECK ((series_id IS NULL) = (occurrence_at IS NULL));

-- A series' occurrences, newest first.
CREATE INDEX broadcasts_series ON broadcasts (series_id, occurrence_at DESC) WHERE series_id IS NOT NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON series TO crier_app;

-- series.create, .update, .pause, .resume, .trigger, .cancel and
-- .occurrence_skipped, on the new target type series.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check,
    ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('broadcast.create', 'broadcast.schedule', 'broadcast.reschedule', 'broadcast.cancel',
                      'broadcast.signal_refused', 'broadcast.retry', 'user.upsert', 'user.import',
                      'dead_letter.redrive', 'dead_letter.drop',
                      'series.create', 'series.update', 'series.pause', 'series.resume', 'series.trigger',
                      'series.cancel', 'series.occurrence_skipped'));
ALTER TABLE audit_log DROP CONSTRAINT audit_log_target_type_check,
    ADD CONSTRAINT audit_log_target_type_check CHECK (target_type IN ('broadcast', 'user', 'dead_letter', 'series'));
