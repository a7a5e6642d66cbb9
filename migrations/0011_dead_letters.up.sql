-- Dead letters (issue 12): messages a Kafka consumer could not process for a
-- reason no retry fixes (not an event, an unknown type, data PostgreSQL
-- refuses, a panic). The consumer writes each to the dead-letter topic (the
-- durable record: the message as it was, with why) and then here, before it
-- moves past it; admins list, redrive and drop them through the API.
--
-- One row per message and consumer: the id is derived from (consumer, topic,
-- kafka_partition, kafka_offset), so every API node's stream tail that
-- dead-letters the same message writes the same row, and a message read
-- again (a consumer restarting before its position was saved) finds its row
-- as an admin left it.
CREATE TABLE dead_letters (
    id              uuid PRIMARY KEY,
    consumer        text NOT NULL,
    topic           text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    -- The message as consumed: key, value and headers ([{"key", "value"}],
    -- values base64, as Kafka headers are bytes).
    message_key     bytea,
    message_value   bytea,
    headers         jsonb NOT NULL DEFAULT '[]',
    -- reason is the class of the failure (a bounded set, the metric's label),
    -- error its text, attempts how many times the consumer tried, in all.
    reason          text NOT NULL,
    error           text NOT NULL,
    attempts        integer NOT NULL,
    -- PENDING: waiting for an admin. REDRIVING: sent to its consumer again.
    -- RESOLVED: the consumer processed it. FAILED: a redrive failed again
    -- (error is the new one). DROPPED: an admin gave up on it; kept for the
    -- record. internal/deadletter's transitions say which moves are allowed.
    status          text NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'REDRIVING', 'RESOLVED', 'FAILED', 'DROPPED')),
    redrives        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- The last failure: the first dead-lettering, or a redrive's.
    failed_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    dropped_at      timestamptz,
    CONSTRAINT dead_letters_position UNIQUE (consumer, topic, kafka_partition, kafka_offset)
);

-- The admin list: newest first, by status or consumer, with keyset paging;
-- the pending count (the metric) reads the status index.
CREATE INDEX dead_letters_created ON dead_letters (created_at DESC, id DESC);
CREATE INDEX dead_letters_status ON dead_letters (status, created_at DESC, id DESC);
CREATE INDEX dead_letters_consumer ON dead_letters (consumer, created_at DESC, id DESC);

GRANT SELECT, INSERT, UPDATE, DELETE ON dead_letters TO crier_app;

-- broadcast.retry (a FAILED broadcast scheduled again), dead_letter.redrive
-- and dead_letter.drop, on the new target type dead_letter.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check,
    ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('broadcast.create', 'broadcast.schedule', 'broadcast.reschedule', 'broadcast.cancel',
                      'broadcast.signal_refused', 'broadcast.retry', 'user.upsert', 'user.import',
                      'dead_letter.redrive', 'dead_letter.drop'));
ALTER TABLE audit_log DROP CONSTRAINT audit_log_target_type_check,
    ADD CONSTRAINT audit_log_target_type_check CHECK (target_type IN ('broadcast', 'user', 'dead_letter'));
