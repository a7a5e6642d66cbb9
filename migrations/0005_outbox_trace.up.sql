-- The W3C traceparent of the change that wrote the event, so the relay (and
-- through Kafka headers, every consumer) continues the change's trace.
ALTER TABLE outbox ADD COLUMN trace_context text;
