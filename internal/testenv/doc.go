// Package testenv gives tests the real services that `make test` started:
// PostgreSQL, Kafka and Temporal, found through DATABASE_URL, KAFKA_BROKERS
// (and KAFKA_SCRAM_* for its SCRAM listener) and TEMPORAL_ADDRESS. In a bare
// `go test ./...` without them a test that needs one is skipped with a
// message; under `make test`, which sets CRIER_TEST_SERVICES=required, it
// fails instead, so a broken harness can never pass by skipping.
package testenv
