package kafkatopic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/internal/retry"
)

// Ensure creates topic when it is missing, through client (whose transport
// carries the link's TLS and SASL), retrying until Kafka answers or ctx
// ends. A topic that exists is left as it is.
func Ensure(ctx context.Context, client *kafka.Client, topic kafka.TopicConfig, logger *slog.Logger) error {
	for attempt := 1; ; attempt++ {
		err := create(ctx, client, topic, logger)
		if err == nil {
			return nil
		}
		logger.Warn("Kafka not ready to create the topic; retrying", "topic", topic.Topic, "attempt", attempt, "error", err)
		if !retry.Wait(ctx, attempt) {
			return fmt.Errorf("create topic %s: %w", topic.Topic, err)
		}
	}
}

func create(ctx context.Context, client *kafka.Client, topic kafka.TopicConfig, logger *slog.Logger) error {
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{topic}})
	if err != nil {
		return err
	}
	switch err := resp.Errors[topic.Topic]; {
	case err == nil:
		logger.Info("Created Kafka topic", "topic", topic.Topic, "partitions", topic.NumPartitions, "replication_factor", topic.ReplicationFactor)
		return nil
	case errors.Is(err, kafka.TopicAlreadyExists):
		return nil
	default:
		return err
	}
}
