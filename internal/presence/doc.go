// Package presence keeps the PostgreSQL record of live SSE connections: which
// API node holds which user's streams. Each node registers its connections,
// refreshes them with a Heartbeat, and removes them on a clean shutdown; a
// cluster-wide clean-up (the PresenceCleanup schedule) removes those of nodes
// that died without doing so.
//
// A connection is live while its node keeps refreshing it: its last_seen_at
// is less than StaleAfter old. Counts of live connections (Admit's per-user
// limit and the totals of Summary) ignore rows of nodes that stopped
// refreshing, so a user whose node crashed can reconnect elsewhere at once,
// before the clean-up.
package presence
