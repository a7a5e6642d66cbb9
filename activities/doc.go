// Package activities holds the side effects of a broadcast's workflow: each is
// one guarded change in PostgreSQL together with its outbox event. They are
// idempotent: a retry after a change committed finds the broadcast already
// moved on and reports it, changing nothing.
package activities
