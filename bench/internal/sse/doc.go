// Package sse reads Crier's Server-Sent Events streams for the bench's
// clients: the fan-out's 10,000 lean ones and make chaos's few reconnecting
// ones. It keeps only what they need of each event (its name, its id, the
// broadcast id its data starts with, or a comment's text) in a fixed buffer
// per line, so a client's memory does not grow with what it reads.
package sse
