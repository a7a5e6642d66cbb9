// Package bench measures how late Crier publishes scheduled broadcasts, side
// by side with two baselines on the same PostgreSQL, Kafka and Temporal: the
// seed's 60-second poller and a naive Temporal workflow (one ordinary
// activity, default worker options). Other scenarios follow that burst
// (Scenario: creation rate, outbox relay, SSE fan-out, inbox reads). It holds
// the scenarios, the systems they run on, the measurement from Kafka's append
// times, the statistics and the BENCHMARKS.md report; cmd/crierbench runs it
// and scripts/bench.sh (make bench) brings up the services around it.
//
// The baselines live here, not in the product: they exist only to be
// compared with. For the same reason this is a Go module of its own
// (github.com/crier/crier/bench, with a replace to the checkout above it):
// the product module's `go list ./...` holds no benchmark code, and what
// only the bench needs stays out of the product's go.mod.
package bench
