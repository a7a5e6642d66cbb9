-- Delivery to users: the user directory, per-broadcast statistics, the log of
-- consumed events that SSE resume replays, presence, and stream tickets.

-- Users and their roles: upserted by admins, learned from tokens on first
-- contact. ALL and ROLE broadcasts count their audience here.
CREATE TABLE users (
    id         text PRIMARY KEY,
    name       text NOT NULL DEFAULT '',
    roles      text[] NOT NULL DEFAULT '{}',
    -- 'admin' when an admin set the user, 'token' when learned from a token.
    source     text NOT NULL DEFAULT 'admin' CHECK (source IN ('admin', 'token')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_roles ON users USING gin (roles);

-- The audience size of a broadcast, fixed when its publication is consumed.
-- Delivered and read counts come from deliveries.
CREATE TABLE broadcast_stats (
    broadcast_id uuid PRIMARY KEY REFERENCES broadcasts (id) ON DELETE CASCADE,
    targeted     bigint NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now()
);

-- Events a consumer has applied, so a redelivered event is dropped.
CREATE TABLE processed_events (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Every event the API nodes consumed, by Kafka position. A node writes an
-- event here before pushing it to any stream, so a client resuming with
-- Last-Event-ID (a position per partition) on any node is replayed exactly
-- what it missed from here.
CREATE TABLE stream_events (
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    broadcast_id    uuid NOT NULL,
    -- The reader, for BROADCAST_READ events.
    user_id         text,
    occurred_at     timestamptz NOT NULL,
    -- The event's JSON value as consumed.
    payload         json NOT NULL,
    PRIMARY KEY (kafka_partition, kafka_offset)
);
CREATE INDEX stream_events_occurred ON stream_events (occurred_at);

-- Live SSE connections, per API node. Each node refreshes last_seen_at of its
-- own; a scheduled clean-up removes those of nodes that stopped refreshing.
CREATE TABLE connections (
    id           uuid PRIMARY KEY,
    node_id      text NOT NULL,
    user_id      text NOT NULL,
    connected_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_user ON connections (user_id);
CREATE INDEX connections_node ON connections (node_id);

-- Short-lived, single-use tickets that let a browser's EventSource (which
-- cannot send headers) open a stream without putting a token in the URL.
CREATE TABLE stream_tickets (
    ticket_hash bytea PRIMARY KEY,
    user_id     text NOT NULL,
    roles       text[] NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- Read receipts travel as outbox events too (BROADCAST_READ), keyed by
-- broadcast; user_id names the reader.
ALTER TABLE outbox ADD COLUMN user_id text;
