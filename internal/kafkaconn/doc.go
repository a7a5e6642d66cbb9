// Package kafkaconn builds how every Crier Kafka client connects: one dialer
// (readers, metadata and readiness) and one transport (the relay's writer and
// topic creation), both from the same Security settings, so no client can be
// left speaking PLAINTEXT while the others authenticate.
package kafkaconn
