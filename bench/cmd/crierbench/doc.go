// Command crierbench runs Crier's benchmarks against running PostgreSQL,
// Kafka and Temporal (DATABASE_URL, KAFKA_BROKERS, TEMPORAL_ADDRESS) and
// writes BENCHMARKS.md. `make bench` (scripts/bench.sh) starts the services,
// builds crier and this program, and runs it; see package bench (the folder
// above) for what is measured.
package main
