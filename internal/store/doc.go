// Package store keeps broadcasts in PostgreSQL. Every lifecycle change is one
// guarded statement (UPDATE ... WHERE status IN (...)) that also inserts the
// change's outbox event, so a retried or racing caller can never move a
// broadcast backwards, and an event exists exactly when its change committed.
package store
