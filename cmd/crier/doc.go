// Command crier runs Crier's processes and tools:
//
//	crier api      serve the HTTP API
//	crier worker   run broadcast workflows (Temporal worker)
//	crier relay    relay outbox events to Kafka
//	crier all      api, worker and relay in one process
//	crier migrate  apply database migrations and exit
//	crier audit verify  check the audit log's hash chain
//	crier token    print a signed bearer token
//
// Every command reads its configuration from the environment, falling back
// to .dev/env (written by `make dev`); see the README for the variables.
package main
