// Package due applies broadcasts' timed transitions (publication at
// scheduled_at, expiry at expires_at) at the instant they fall due, from
// every worker at once.
//
// A broadcast's workflow sleeps until its time and then makes the change
// itself; that stays the guarantee. But Temporal fires a burst of timers
// due in the same second at a bounded rate, and a workflow task held by a
// worker that stops or dies waits for its timeout elsewhere. So each worker
// also runs a Dispatcher: it reads from PostgreSQL what falls due in the
// next few seconds and, at each instant, applies those transitions itself
// with the same guarded statements, many broadcasts at once. Several
// dispatchers and the workflows race for the same rows; the guards and
// row locks let exactly one of them make each change, and the others find it
// done. Nothing is held in one process's memory that another could not
// redo, so a worker that stops or dies delays nothing while another runs.
package due
