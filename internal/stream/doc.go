// Package stream pushes broadcasts to users over Server-Sent Events. Every
// event a stream sends comes from the Kafka topic, so it has a position
// (partition, offset); an event's SSE id is the client's position on every
// partition. A node writes each event it consumes to PostgreSQL before
// pushing it, so a client that reconnects to any node with Last-Event-ID is
// replayed exactly the events it missed, from PostgreSQL, and then continues
// live, with nothing lost or repeated.
package stream
