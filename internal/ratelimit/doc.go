// Package ratelimit limits how often each key (a user, a client address) may
// act, with a token bucket per key from golang.org/x/time/rate. Keys idle
// for a while are forgotten, so memory follows active callers, not every
// caller ever seen. Limits are per process: N API nodes allow N times the
// rate, which bounds abuse of one node, the resource a limit protects.
package ratelimit
