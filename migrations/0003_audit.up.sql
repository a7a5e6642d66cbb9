-- The audit log: one row per admin change (a broadcast created, scheduled,
-- rescheduled or cancelled; a user set or imported), with who made it, under
-- which request, and the target as it stood before and after.
--
-- Append-only: the application only ever inserts here; it never updates or
-- deletes a row. How long rows are kept is an operator's decision (delete by
-- occurred_at, or partition), not the application's.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_id    text NOT NULL,
    actor_name  text NOT NULL,
    actor_roles text[] NOT NULL DEFAULT '{}',
    action      text NOT NULL CHECK (action IN ('broadcast.create', 'broadcast.schedule', 'broadcast.reschedule',
                                                'broadcast.cancel', 'user.upsert', 'user.import')),
    target_type text NOT NULL CHECK (target_type IN ('broadcast', 'user')),
    -- NULL when the action has no single target (an import).
    target_id   text,
    -- The X-Request-Id of the request that made the change, to join with the
    -- request logs.
    request_id  text,
    -- The target as the API shows it, before (NULL for a creation) and after
    -- the change.
    before      jsonb,
    after       jsonb,
    -- A short summary of what the action did beyond before and after, such as
    -- an import's count.
    detail      jsonb
);

-- Newest first is the primary key read backwards; these serve the filters.
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
