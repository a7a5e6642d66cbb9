-- Broadcasts, their transactional outbox and per-user deliveries.
-- Statuses and the like are text with CHECK constraints rather than enum types,
-- so a later migration can add a value without rewriting anything.

CREATE TABLE broadcasts (
    id             uuid PRIMARY KEY,
    status         text NOT NULL CHECK (status IN ('DRAFT', 'SCHEDULED', 'IN_PROGRESS', 'SENT', 'EXPIRED', 'CANCELLED', 'FAILED')),
    sender_id      text NOT NULL,
    sender_name    text NOT NULL,
    title          text NOT NULL,
    content        text NOT NULL,
    category       text NOT NULL,
    priority       text NOT NULL CHECK (priority IN ('LOW', 'NORMAL', 'HIGH', 'URGENT')),
    target_type    text NOT NULL CHECK (target_type IN ('ALL', 'ROLE', 'SELECTED')),
    target_ids     text[] NOT NULL DEFAULT '{}',
    scheduled_at   timestamptz,
    expires_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz,
    expired_at     timestamptz,
    cancelled_at   timestamptz,
    failure_reason text,
    workflow_id    text NOT NULL,
    -- SHA-256 of the create request, so a retry with the same Idempotency-Key
    -- but a different body is told apart from a true retry.
    request_hash   bytea,
    -- Only a draft (or a draft cancelled before it got times) may lack them.
    CONSTRAINT broadcasts_times_set CHECK (status IN ('DRAFT', 'CANCELLED') OR (scheduled_at IS NOT NULL AND expires_at IS NOT NULL)),
    CONSTRAINT broadcasts_expiry_after_schedule CHECK (expires_at > scheduled_at)
);

-- Admin listing: newest first, optionally by status, with keyset paging.
CREATE INDEX broadcasts_created ON broadcasts (created_at DESC, id DESC);
CREATE INDEX broadcasts_status_created ON broadcasts (status, created_at DESC, id DESC);

-- The outbox: one row per lifecycle event, inserted by the same statement that
-- changes the broadcast, so an event exists exactly when its change committed.
-- The relay claims unpublished rows by state (FOR UPDATE SKIP LOCKED), never by
-- "id greater than the last seen", so a row whose transaction commits late is
-- never skipped.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    event_type   text NOT NULL,
    broadcast_id uuid NOT NULL,
    occurred_at  timestamptz NOT NULL,
    -- The broadcast row as it stood right after the change, as JSON.
    snapshot     json NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    published_at timestamptz,
    -- Set when Kafka refused the event for a reason no retry can fix.
    failed_at    timestamptz
);

CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL AND failed_at IS NULL;
-- Lets the relay keep each broadcast's events in order: a row is claimed only
-- when no older row of the same broadcast is still pending.
CREATE INDEX outbox_pending_broadcast ON outbox (broadcast_id, id) WHERE published_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Per-user delivery state. Rows exist for SELECTED targets from publication
-- (fan-out on write) and for ALL and ROLE targets once a user receives or reads
-- the broadcast (fan-out on read).
CREATE TABLE deliveries (
    broadcast_id uuid NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    user_id      text NOT NULL,
    status       text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED', 'SUPERSEDED')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    read_at      timestamptz,
    PRIMARY KEY (broadcast_id, user_id)
);

CREATE INDEX deliveries_user ON deliveries (user_id, broadcast_id);
