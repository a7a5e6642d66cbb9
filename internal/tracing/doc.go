// Package tracing sets up OpenTelemetry tracing and carries a broadcast's
// trace across the places a context cannot go by itself: the outbox row
// (stored with the change), Kafka message headers, and the event a stream
// writes. Tracing is off unless the standard OTEL_* variables ask for it;
// off, every call here is a cheap no-op.
package tracing
