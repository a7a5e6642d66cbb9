package chaos

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/crier/crier/internal/broadcast"
)

// signalWorker sends sig to worker-1, and for SIGTERM waits for it to stop.
// It is not restarted: worker-2 carries on alone, as the goals say.
func signalWorker(_ context.Context, r *run, sig syscall.Signal) error {
	w := r.crier.workers[0]
	if err := w.Signal(sig); err != nil {
		return err
	}
	sent := time.Now()
	r.event("%s to worker-1 (pid %d)", signalName(sig), w.PID())
	err := w.Wait(time.Minute)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return err
	}
	r.event("worker-1 gone %.1fs after the signal (%s)", time.Since(sent).Seconds(), exitText(err))
	return nil
}

func signalName(sig syscall.Signal) string {
	if sig == syscall.SIGKILL {
		return "SIGKILL"
	}
	return "SIGTERM"
}

func exitText(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// killAPI crashes api-a under its clients; they resume on api-b.
func killAPI(_ context.Context, r *run) error {
	n := r.crier.apis[0]
	pid := n.PID()
	if err := n.Kill(); err != nil {
		return err
	}
	r.event("SIGKILL to api-a (pid %d), which %d of the %d clients stream from", pid, clientsOn(0), len(r.clients))
	return nil
}

func clientsOn(node int) int {
	n := 0
	for _, t := range tabs {
		if t.node == node {
			n++
		}
	}
	return n
}

// stopPostgres stops PostgreSQL in immediate mode and starts it 20 s later.
func stopPostgres(ctx context.Context, r *run) error {
	stopped := time.Now()
	if err := r.env.Services.StopPostgres(ctx); err != nil {
		return err
	}
	r.event("PostgreSQL stopped in immediate mode")
	if err := pause(ctx, time.Until(stopped.Add(20*time.Second))); err != nil {
		return err
	}
	if err := r.env.Services.StartPostgres(ctx); err != nil {
		return err
	}
	r.event("PostgreSQL started again (crash recovery from the WAL)")
	return nil
}

// killKafkaLeader crashes the broker leading most of the topic's
// partitions and starts it again 30 s later.
func killKafkaLeader(ctx context.Context, r *run) error {
	id, led, err := leaderOf(ctx, r.env.Brokers, r.log.topic)
	if err != nil {
		return err
	}
	killed := time.Now()
	if err := r.env.Services.KillBroker(ctx, id); err != nil {
		return err
	}
	r.event("SIGKILL to Kafka broker %d, leader of partitions %v", id, led)
	if err := pause(ctx, time.Until(killed.Add(30*time.Second))); err != nil {
		return err
	}
	if err := r.env.Services.StartBroker(ctx, id); err != nil {
		return err
	}
	r.event("Kafka broker %d started again", id)
	return nil
}

// leaderOf is the broker that leads most of topic's partitions, and those
// partitions, from the cluster's metadata.
func leaderOf(ctx context.Context, brokers []string, topic string) (int, []int, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, nil, fmt.Errorf("read the metadata of %s: %w", topic, err)
	}
	led := map[int][]int{}
	for _, t := range meta.Topics {
		for _, p := range t.Partitions {
			led[p.Leader.ID] = append(led[p.Leader.ID], p.ID)
		}
	}
	best := -1
	for id, ps := range led {
		if best < 0 || len(ps) > len(led[best]) || len(ps) == len(led[best]) && id < best {
			best = id
		}
	}
	if best < 0 {
		return 0, nil, fmt.Errorf("topic %s has no partition leaders", topic)
	}
	slices.Sort(led[best])
	return best, led[best], nil
}

// stopTemporal stops Temporal, tries three creations 5 s into the outage
// (each must be answered 503 and store nothing), and starts Temporal 60 s
// after it stopped.
func stopTemporal(ctx context.Context, r *run) error {
	stopped := time.Now()
	if err := r.env.Services.StopTemporal(ctx); err != nil {
		return err
	}
	r.event("Temporal stopped (%.1fs to stop)", time.Since(stopped).Seconds())
	if err := pause(ctx, time.Until(stopped.Add(5*time.Second))); err != nil {
		return err
	}
	u := &outage{}
	for i := range 3 {
		p := &planned{Title: fmt.Sprintf("%s created during the outage #%d", r.sc.Name, i+1),
			Target: broadcast.Target{Type: broadcast.TargetAll}, Expires: time.Now().Add(time.Hour)}
		status, err := r.admin.create(ctx, p)
		if err != nil {
			r.event("creation %d during the outage: %v", i+1, err)
		}
		u.titles, u.answers = append(u.titles, p.Title), append(u.answers, status)
	}
	r.outage = u
	r.event("3 creations during the outage answered %v", u.answers)
	if err := pause(ctx, time.Until(stopped.Add(60*time.Second))); err != nil {
		return err
	}
	if err := r.env.Services.StartTemporal(ctx); err != nil {
		return err
	}
	r.event("Temporal started again")
	return nil
}
