// Package kafkatopic waits for a Kafka topic to exist. Crier's relay creates
// the topic at start; the processes that read it (stream tails, the audience
// consumer group) may start first and must not read, or join a group, before
// the topic has partitions.
package kafkatopic
