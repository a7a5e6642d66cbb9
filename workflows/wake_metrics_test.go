package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/testenv"
	crierworker "github.com/crier/crier/worker"
	"github.com/crier/crier/workflows"
)

// counters is a Temporal metrics handler that keeps the total of each
// counter by name, whatever its tags.
type counters struct {
	mu     sync.Mutex
	totals map[string]int64
}

func newCounters() *counters { return &counters{totals: map[string]int64{}} }

func (c *counters) WithTags(map[string]string) client.MetricsHandler { return c }
func (c *counters) Counter(name string) client.MetricsCounter        { return counter{c, name} }
func (c *counters) Gauge(name string) client.MetricsGauge {
	return client.MetricsNopHandler.Gauge(name)
}
func (c *counters) Timer(name string) client.MetricsTimer {
	return client.MetricsNopHandler.Timer(name)
}

func (c *counters) total(name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.totals[name]
}

type counter struct {
	c    *counters
	name string
}

func (k counter) Inc(d int64) {
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	k.c.totals[k.name] += d
}

// TestALateWakeUpIsCounted: on a real Temporal server, a workflow that slept
// with a lead and was woken only after its broadcast was due (here: its
// worker was away) counts a wake-up and a late one, on the worker's metrics.
func TestALateWakeUpIsCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	logger := testenv.Logger(t)
	seen := newCounters()
	c, err := client.Dial(client.Options{HostPort: testenv.TemporalAddress(t), Logger: tlog.NewStructuredLogger(logger), MetricsHandler: seen})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, crierworker.RegisterSearchAttributes(ctx, c, "default", logger))

	// The first workflow task must start the sleep before the wake-up time
	// (4 s away): ample on a loaded machine, where it takes milliseconds.
	now := time.Now()
	in := workflows.BroadcastInput{BroadcastID: uuid.New(), ScheduledAt: now.Add(8 * time.Second), ExpiresAt: now.Add(time.Hour),
		PublishLead: 4 * time.Second}
	ms := &memStore{now: time.Now, at: map[string]time.Time{}, b: broadcast.Broadcast{
		ID: in.BroadcastID, Status: broadcast.StatusScheduled, ScheduledAt: &in.ScheduledAt, ExpiresAt: &in.ExpiresAt,
	}}
	queue := testenv.Name("wake-late")
	start := func() func() {
		w := crierworker.New(c, &activities.Activities{Store: ms}, crierworker.Config{TaskQueue: queue, Logger: logger})
		require.NoError(t, w.Start())
		return w.Stop
	}

	// The first worker starts the workflow's sleep, then goes away.
	stop := start()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: broadcast.WorkflowID(in.BroadcastID), TaskQueue: queue},
		workflows.WorkflowName, in)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.WithoutCancel(ctx), run.GetID(), "", "test over") })
	testenv.Eventually(t, 10*time.Second, func() error {
		d, err := c.DescribeWorkflow(ctx, run.GetID(), "")
		if err != nil {
			return err
		}
		desc := d.RawResponse
		if desc.GetPendingWorkflowTask() != nil {
			err = errors.New("its first workflow task is still pending")
		}
		if err == nil && desc.GetWorkflowExecutionInfo().GetHistoryLength() < 4 {
			err = errors.New("it has not started its sleep yet")
		}
		return err
	})
	stop()
	require.Zero(t, seen.total(metrics.PublishWakeups), "asleep until 4 s before the due time")
	require.Less(t, time.Now(), in.ScheduledAt.Add(-in.PublishLead), "the first workflow task was too slow for this test's timing")

	// Its wake-up waits for a worker until after the due time.
	time.Sleep(time.Until(in.ScheduledAt.Add(time.Second)))
	t.Cleanup(start())
	testenv.Eventually(t, 30*time.Second, func() error {
		if seen.total(metrics.PublishWokeLate) == 0 {
			return errors.New("no late wake-up counted yet")
		}
		return nil
	})
	require.EqualValues(t, 1, seen.total(metrics.PublishWakeups))
	require.EqualValues(t, 1, seen.total(metrics.PublishWokeLate))
}
