// Package broadcast holds Crier's domain model: a broadcast, its lifecycle
// statuses, the events that report its changes, and the rules a new or changed
// broadcast must satisfy. It has no I/O, so every other package can share it.
package broadcast
