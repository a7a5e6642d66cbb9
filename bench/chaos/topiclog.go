package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crier/crier/bench"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/outbox"
)

// record is one message of a scenario's topic as the harness read it.
type record struct {
	Partition  int32
	Offset     int64
	AppendedAt time.Time // the broker's LogAppendTime
	EventID    uuid.UUID
	Type       broadcast.EventType
	Broadcast  uuid.UUID
}

// topicLog reads every partition of a scenario's topic from its start, for
// the whole scenario, with a plain consumer of its own (no group): Kafka's
// account of what was published, independent of Crier's consumers. A
// broker that dies is the client's to route around.
type topicLog struct {
	brokers []string
	topic   string
	client  *kgo.Client
	cancel  context.CancelFunc
	done    chan struct{}

	mu      sync.Mutex
	records []record
	next    map[int32]int64 // the next offset to read, per partition
	grew    chan struct{}   // closed, and replaced, when records arrive
}

func openTopicLog(ctx context.Context, brokers []string, topic string) (*topicLog, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchMaxPartitionBytes(outbox.MaxMessageBytes))
	if err != nil {
		return nil, fmt.Errorf("read topic %s: %w", topic, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &topicLog{brokers: brokers, topic: topic, client: client, cancel: cancel, done: make(chan struct{}),
		next: map[int32]int64{}, grew: make(chan struct{})}
	go l.run(ctx)
	return l, nil
}

func (l *topicLog) run(ctx context.Context) {
	defer close(l.done)
	for ctx.Err() == nil {
		fetches := l.client.PollFetches(ctx)
		var batch []record
		fetches.EachRecord(func(r *kgo.Record) { batch = append(batch, decode(r)) })
		// A fetch error (a broker down) is the client's to retry; what it
		// could not read yet comes in a later poll.
		l.mu.Lock()
		if len(batch) > 0 {
			l.records = append(l.records, batch...)
			for _, r := range batch {
				l.next[r.Partition] = max(l.next[r.Partition], r.Offset+1)
			}
			close(l.grew)
			l.grew = make(chan struct{})
		}
		l.mu.Unlock()
	}
}

// decode reads what the checks need of one event; a message that is not an
// event is kept with what Kafka says of it (and its type empty).
func decode(r *kgo.Record) record {
	out := record{Partition: r.Partition, Offset: r.Offset, AppendedAt: r.Timestamp}
	var ev struct {
		EventID     uuid.UUID           `json:"event_id"`
		EventType   broadcast.EventType `json:"event_type"`
		BroadcastID uuid.UUID           `json:"broadcast_id"`
	}
	if json.Unmarshal(r.Value, &ev) == nil {
		out.EventID, out.Type, out.Broadcast = ev.EventID, ev.EventType, ev.BroadcastID
	}
	return out
}

// snapshot is every record read so far, in the order read.
func (l *topicLog) snapshot() []record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records)
}

// grown is closed when records arrive after the call.
func (l *topicLog) grown() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.grew
}

// catchUp waits until the log has read everything Kafka holds now (every
// partition's high watermark), so a snapshot afterwards misses nothing
// appended before the call.
func (l *topicLog) catchUp(ctx context.Context) error {
	end, err := bench.EndOffsets(ctx, l.brokers, l.topic)
	if err != nil {
		return err
	}
	for {
		l.mu.Lock()
		behind := false
		for p, off := range end {
			if l.next[p] < off {
				behind = true
			}
		}
		grew := l.grew
		l.mu.Unlock()
		if !behind {
			return nil
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return fmt.Errorf("read %s up to its end: %w", l.topic, ctx.Err())
		}
	}
}

func (l *topicLog) close() {
	l.cancel()
	<-l.done
	l.client.Close()
}
