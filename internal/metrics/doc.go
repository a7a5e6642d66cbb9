// Package metrics defines Crier's Prometheus metrics and the registry a
// process serves at /metrics. The metrics are package-level collectors, as
// is usual with client_golang; a process registers them once in its
// registry, and tests read them with testutil.
package metrics
