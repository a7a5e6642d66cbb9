package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crier/crier/internal/outbox"
)

// partitions is the partition count of every benchmark topic: Crier's
// default (CRIER_KAFKA_PARTITIONS).
const partitions = 6

// Partitions is the partition count of the topics CreateTopic makes.
const Partitions = partitions

// CreateTopic creates a topic whose messages carry the broker's append time
// (message.timestamp.type=LogAppendTime), so lateness is measured by Kafka's
// clock at the moment the event became readable, whoever produced it.
func CreateTopic(ctx context.Context, brokers []string, topic string) error {
	return CreateReplicatedTopic(ctx, brokers, topic, 1)
}

// CreateReplicatedTopic is CreateTopic with replication copies of each
// partition; from 3 up, an append is acknowledged to acks=all producers
// (Crier's relay) once two of them have it (min.insync.replicas=2), so one
// broker may die without losing or refusing an acknowledged event.
func CreateReplicatedTopic(ctx context.Context, brokers []string, topic string, replication int) error {
	minInSync := 1
	if replication >= 3 {
		minInSync = 2
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: replication,
		ConfigEntries: []kafka.ConfigEntry{
			{ConfigName: "message.timestamp.type", ConfigValue: "LogAppendTime"},
			{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(outbox.MaxMessageBytes)},
			{ConfigName: "min.insync.replicas", ConfigValue: strconv.Itoa(minInSync)},
		},
	}}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if err := resp.Errors[topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// EndOffsets returns the next offset of every partition of topic. Reading
// from there sees exactly what is appended afterwards.
func EndOffsets(ctx context.Context, brokers []string, topic string) (map[int32]int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	reqs := make([]kafka.OffsetRequest, partitions)
	for p := range partitions {
		reqs[p] = kafka.LastOffsetOf(p)
	}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := make(map[int32]int64, partitions)
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of %s partition %d: %w", topic, po.Partition, po.Error)
		}
		if po.Partition < 0 || po.Partition >= partitions {
			return nil, fmt.Errorf("list offsets of %s: partition %d is not one asked for", topic, po.Partition)
		}
		out[int32(po.Partition)] = po.LastOffset
	}
	if len(out) != partitions {
		return nil, fmt.Errorf("topic %s: got offsets of %d partitions, want %d", topic, len(out), partitions)
	}
	return out, nil
}

// ReadUntil reads every partition of topic from offsets with plain partition
// consumers (no group, independent of the system measured) and records each
// message in tally with its append time, until tally is done or ctx ends.
// tick, when not nil, is called about every interval while waiting.
func ReadUntil(ctx context.Context, brokers []string, topic string, offsets map[int32]int64, tally *Tally,
	interval time.Duration, tick func()) error {
	start := make(map[int32]kgo.Offset, len(offsets))
	for p, o := range offsets {
		start[p] = kgo.NewOffset().At(o)
	}
	// franz-go, unlike kafka-go's reader, reads a LogAppendTime batch's
	// timestamp as the broker's append time rather than the producer's.
	client, err := partitionReader(brokers, topic, start)
	if err != nil {
		return err
	}
	defer client.Close()
	last := time.Now()
	for !tally.Done() {
		pollCtx, cancel := context.WithTimeout(ctx, interval)
		fetches := client.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return nil // out of time: the tally says what is missing
		}
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
				return fmt.Errorf("read %s partition %d: %w", topic, fe.Partition, fe.Err)
			}
		}
		fetches.EachRecord(func(r *kgo.Record) { tally.Record(r.Value, r.Timestamp) })
		if tick != nil && time.Since(last) >= interval {
			tick()
			last = time.Now()
		}
	}
	return nil
}

// partitionReader reads topic's partitions from start with plain partition
// consumers: no group, independent of the system measured.
func partitionReader(brokers []string, topic string, start map[int32]kgo.Offset) (*kgo.Client, error) {
	client, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchMaxPartitionBytes(outbox.MaxMessageBytes),
	)
	if err != nil {
		return nil, fmt.Errorf("make a Kafka reader of %s: %w", topic, err)
	}
	return client, nil
}
