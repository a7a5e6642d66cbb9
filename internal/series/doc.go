// Package series holds what a recurring broadcast (a series) is made of
// that is not storage or Temporal plumbing: its recurrence (a cron
// expression in a time zone, or an interval, within bounds), checked with
// every problem named; the Temporal schedule spec it becomes, with Crier's
// daylight-saving rule (one occurrence per wall-clock time: a time the
// clocks skip fires as far after it as they jump, a time that occurs twice
// fires once); and the key that names each occurrence, from which its
// broadcast id is derived so a retried schedule action never makes two.
package series
