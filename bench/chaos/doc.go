// Package chaos checks Crier's promise, "once, on time", while its parts
// fail: real crier processes (two API nodes with live SSE clients, two
// workers, the relay) on real PostgreSQL, Temporal and Kafka, each scenario
// a burst of broadcasts (some cancelled, some rescheduled, some expiring)
// with one fault injected: a worker stopped or killed inside the hold (the
// seconds before the burst's due time, when the due dispatchers have read
// it and wait for its instant) or during expiries, the relay killed between Kafka's acknowledgement
// and marking rows published, an API node killed under its clients, or
// PostgreSQL, a Kafka broker or Temporal taken away and brought back.
//
// After each scenario it judges from three independent records, Kafka's
// topic, PostgreSQL's tables and the clients' own logs, whether every
// broadcast that fell due was published exactly once, none after its cancel
// without a retraction, every targeted client got each broadcast once (after
// dropping duplicates) and no other client did, every status is final and
// agrees with the events, and the outbox is empty; and it measures the
// lateness of each publication by Kafka's append time. cmd/crierchaos runs
// every scenario and writes CHAOS.md (make chaos); TestShortForm runs three
// of them in make test and asserts the judgement, never the lateness.
//
// Faults are real signals to real processes and the project's own scripts
// stopping services: the product has no fault hooks.
package chaos
