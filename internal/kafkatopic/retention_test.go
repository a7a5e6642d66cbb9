package kafkatopic_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/kafkatopic"
	"github.com/crier/crier/internal/testenv"
)

// OldestKept reads a real topic's retention.ms and segment.ms: what Kafka
// may still redeliver is as old as both together, or forever.
func TestOldestKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	brokers := testenv.KafkaBrokers(t)
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	topics := map[string][]kafka.ConfigEntry{
		testenv.Name("retained"): {{ConfigName: "retention.ms", ConfigValue: "86400000"}, {ConfigName: "segment.ms", ConfigValue: "3600000"}},
		testenv.Name("forever"):  {{ConfigName: "retention.ms", ConfigValue: "-1"}},
	}
	for name, entries := range topics {
		resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: name, NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: entries,
		}}})
		require.NoError(t, err)
		require.NoError(t, resp.Errors[name])
	}
	for name, entries := range topics {
		oldest, forever, err := kafkatopic.OldestKept(ctx, client, name)
		require.NoError(t, err, name)
		if entries[0].ConfigValue == "-1" {
			require.True(t, forever, name)
			continue
		}
		require.False(t, forever, name)
		require.Equal(t, 25*time.Hour, oldest, "%s: a day of retention and an hour's segments", name)
	}
	_, _, err := kafkatopic.OldestKept(ctx, client, testenv.Name("no-such-topic"))
	require.Error(t, err)
}
