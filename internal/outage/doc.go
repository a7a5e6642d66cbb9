// Package outage tells an error that means a dependency is down (PostgreSQL
// unreachable, refusing connections, shutting down, or a connection cut
// mid-query) from an error about the request itself, so that the API
// answers the first 503 with Retry-After, naming the dependency, rather
// than a bare 500. Temporal's own is workflows.ErrUnavailable; no route
// touches Kafka.
package outage
