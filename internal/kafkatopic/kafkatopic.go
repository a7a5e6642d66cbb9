package kafkatopic

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// Partitions waits until topic has partitions and returns them, asking the
// brokers through dialer (which carries the link's TLS and SASL). It returns
// ctx's error only when ctx ends first.
func Partitions(ctx context.Context, dialer *kafka.Dialer, brokers []string, topic string, logger *slog.Logger) ([]kafka.Partition, error) {
	for attempt := 1; ; attempt++ {
		parts, err := read(ctx, dialer, brokers, topic)
		if err == nil && len(parts) > 0 {
			return parts, nil
		}
		if err == nil {
			err = errors.New("the topic has no partitions yet")
		}
		if attempt == 1 || attempt%30 == 0 {
			logger.Info("Waiting for the topic (the relay creates it)", "topic", topic, "reason", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func read(ctx context.Context, dialer *kafka.Dialer, brokers []string, topic string) ([]kafka.Partition, error) {
	var lastErr error
	for _, b := range brokers {
		conn, err := dialer.DialContext(ctx, "tcp", b)
		if err != nil {
			lastErr = err
			continue
		}
		parts, err := conn.ReadPartitions(topic)
		_ = conn.Close() // the partitions are read (or not): a failed close loses nothing
		if err == nil {
			return parts, nil
		}
		lastErr = err
	}
	return nil, lastErr
}
