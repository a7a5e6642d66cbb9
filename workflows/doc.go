// Package workflows holds the Broadcast workflow: one per broadcast, it
// durably sleeps until the broadcast's scheduled time, publishes it, sleeps
// until its expiry and expires it, while honouring cancel and reschedule
// requests that arrive as signals (for operators in Temporal Web UI or CLI) or
// as validated updates (for the API, which needs a synchronous answer).
package workflows
