// Package deadletter keeps a message a Kafka consumer cannot process from
// blocking its partition. A failure is transient (PostgreSQL or Kafka
// unavailable, a timeout, a serialization failure: retried without limit, so
// an outage only delays) or permanent (not an event, an unknown event type,
// an event missing what the consumer needs, data PostgreSQL refuses, a
// panic: retried a bounded number of times). A message that still fails for
// good is written with its error to the dead-letter topic, the durable
// record, and then to the dead_letters table, the admins' view; only then
// does the consumer move past it. Admins list, redrive (send it to the same
// consumer once more, through the same code path and dedupe) and drop dead
// letters through the API.
package deadletter
