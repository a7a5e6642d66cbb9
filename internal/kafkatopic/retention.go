package kafkatopic

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// OldestKept is how old an event of topic may be while Kafka still holds it,
// and so may still redeliver it (to a consumer group whose offsets were
// lost and start over): retention.ms plus segment.ms, since Kafka deletes a
// log segment only once its newest event is past retention.ms, and a
// segment rolls after segment.ms. forever is true when retention.ms is -1
// (kept until deleted by hand). It asks the brokers through client, which
// carries the link's TLS and SASL (kafkaconn.Link's Transport).
func OldestKept(ctx context.Context, client *kafka.Client, topic string) (oldest time.Duration, forever bool, err error) {
	resp, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"retention.ms", "segment.ms"},
	}}})
	if err != nil {
		return 0, false, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	if len(resp.Resources) != 1 {
		return 0, false, fmt.Errorf("describe topic %s: %d resources in the answer", topic, len(resp.Resources))
	}
	res := resp.Resources[0]
	if res.Error != nil {
		return 0, false, fmt.Errorf("describe topic %s: %w", topic, res.Error)
	}
	ms := map[string]int64{}
	for _, e := range res.ConfigEntries {
		n, err := strconv.ParseInt(e.ConfigValue, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("topic %s: %s is %q, not milliseconds", topic, e.ConfigName, e.ConfigValue)
		}
		ms[e.ConfigName] = n
	}
	retention, hasRetention := ms["retention.ms"]
	segment, hasSegment := ms["segment.ms"]
	switch {
	case !hasRetention || !hasSegment:
		return 0, false, errors.New("topic " + topic + ": the brokers did not say retention.ms and segment.ms")
	case retention < 0:
		return 0, true, nil
	}
	return time.Duration(retention+segment) * time.Millisecond, false, nil
}
