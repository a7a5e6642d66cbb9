// Package inbox serves a user's view of broadcasts: the active broadcasts
// targeted at them, newest first, with their read state, and read receipts.
// Content comes from a per-node cache of active broadcasts, filled on demand
// and kept current by the lifecycle events the node consumes, so inbox reads
// under load do not fetch content from PostgreSQL.
package inbox
