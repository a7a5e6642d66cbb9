// Package retention deletes what grows with traffic once it has outlived
// its horizon: published outbox rows, the audience consumer's record of
// processed events, the deliveries of broadcasts that ended, and the stream
// log past the replay window. The workers' maintenance run (the
// PresenceCleanup workflow, started every minute by a Temporal Schedule)
// calls it for each table.
//
// Every delete is bounded: a statement deletes at most a batch (10,000 rows
// by default) and a run at most a few batches per table, so a first run on a
// large backlog holds its locks briefly, writes a bounded amount of WAL, and
// catches up over several runs instead of in one huge statement. Rows still
// in use are never candidates: an outbox row not yet written to Kafka stays
// whatever its age, and so do the deliveries of a broadcast that has not
// ended.
//
// The audit log is not here on purpose: it is append-only and hash-chained
// (internal/audit), and how long it is kept is the operator's decision.
package retention
