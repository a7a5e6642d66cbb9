// Package outbox relays lifecycle events from PostgreSQL's outbox table to
// Kafka. Rows are claimed by state (FOR UPDATE SKIP LOCKED on unpublished
// rows), never by "id greater than the last seen", so a row whose transaction
// commits late is relayed when it commits. Several relays may run at once:
// each claims a disjoint batch, and a broadcast's events stay in order because
// a row is claimed only when no older row of its broadcast is pending.
// Delivery is at least once: a crash between the Kafka write and the commit
// resends the batch, and consumers drop duplicates by event_id.
package outbox
