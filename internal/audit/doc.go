// Package audit keeps the audit log: who changed what through the admin API,
// when, under which request, and the target as it stood before and after.
// Each entry is written in the transaction of the change it records. The log
// is append-only (the application's role may only insert and read it) and
// hash-chained, so Verify finds an entry changed, inserted or deleted
// afterwards; retention is left to operators.
package audit
