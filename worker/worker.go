package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/workflows"
)

// Config configures the worker.
type Config struct {
	// TaskQueue to poll. Default workflows.TaskQueue.
	TaskQueue string
	// Logger receives the worker's own logs. Default slog.Default().
	Logger *slog.Logger
	// Presence, when set, runs the PresenceCleanup workflow and its activity
	// too (see RegisterPresence and EnsurePresenceSchedule).
	Presence *activities.PresenceActivities
}

// New returns a worker that runs broadcast workflows with acts as their
// activities. Start it with Run.
func New(c client.Client, acts *activities.Activities, cfg Config) worker.Worker {
	if cfg.TaskQueue == "" {
		cfg.TaskQueue = workflows.TaskQueue
	}
	// Every held task pins its workflow in the SDK's workflow cache. Were
	// the cache (10,000 by default) as large as the number of tasks held, a
	// task for any other workflow during a burst would find it full of
	// pinned workflows and be dropped, to time out and wait for a retry: the
	// cache holds twice as many as may be held.
	worker.SetStickyWorkflowCacheSize(2 * maxHeldTasks)
	w := worker.New(c, cfg.TaskQueue, worker.Options{
		// A burst of due broadcasts is a burst of workflow tasks that each
		// run one local activity: poll and run them in parallel. Woken early
		// (CRIER_PUBLISH_LEAD), each holds its task and its local activity
		// until the due time, so a burst of 10,000 needs 10,000 of each;
		// these are limits, nothing is allocated per slot.
		MaxConcurrentWorkflowTaskPollers:        8,
		MaxConcurrentWorkflowTaskExecutionSize:  maxHeldTasks,
		MaxConcurrentLocalActivityExecutionSize: maxHeldTasks,
		// A burst keeps the worker busy for seconds. With the SDK's default
		// 5 s, the tail of a burst times out on this worker's sticky queue and
		// goes to the normal queue, where it waited about a minute in
		// make bench. 30 s keeps it on the fast path.
		StickyScheduleToStartTimeout: 30 * time.Second,
	})
	w.RegisterWorkflowWithOptions(workflows.Broadcast, workflow.RegisterOptions{Name: workflows.WorkflowName})
	w.RegisterActivity(acts)
	if cfg.Presence != nil {
		RegisterPresence(w, cfg.Presence)
	}
	return w
}

// maxHeldTasks is how many workflow tasks (and their publish activities) a
// worker runs at once: a burst's workflows hold theirs until the due time.
const maxHeldTasks = 10000

// longestHold is how long a workflow task may be held on purpose: the
// longest publish lead, and a margin for the publish itself.
const longestHold = workflows.MaxLead + 10*time.Second

// QuietHeldTasks wraps the handler of the Temporal client's logger so that
// the SDK's warning that a workflow task ran long (TMPRL1104, past 5 s) is
// dropped for tasks no longer than longestHold: a burst holds thousands of
// tasks on purpose and would log a warning for each. Longer tasks are still
// reported. The SDK offers no option for the threshold, only a process
// environment variable read once, so the filter sits on the logger the
// client is given (config.Temporal's logger, in cmd/crier).
func QuietHeldTasks(h slog.Handler) slog.Handler { return heldTaskFilter{h} }

type heldTaskFilter struct{ slog.Handler }

func (f heldTaskFilter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && strings.HasPrefix(r.Message, "[TMPRL1104]") && heldOnPurpose(r) {
		return nil
	}
	return f.Handler.Handle(ctx, r)
}

func (f heldTaskFilter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return heldTaskFilter{f.Handler.WithAttrs(attrs)}
}

func (f heldTaskFilter) WithGroup(name string) slog.Handler {
	return heldTaskFilter{f.Handler.WithGroup(name)}
}

// heldOnPurpose reports whether the record's WorkflowTaskDuration is within
// longestHold.
func heldOnPurpose(r slog.Record) bool {
	held := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "WorkflowTaskDuration" {
			return true
		}
		d, ok := a.Value.Any().(time.Duration)
		held = ok && d <= longestHold
		return false
	})
	return held
}

// RegisterSearchAttributes adds Crier's custom search attributes to the
// namespace when they are missing, so Web UI can filter by them. It needs
// operator rights on the cluster; where Crier lacks them, an operator adds
// them once with `temporal operator search-attribute create`.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string, logger *slog.Logger) error {
	if namespace == "" {
		namespace = "default"
	}
	want := map[string]enumspb.IndexedValueType{
		workflows.StatusKey.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		workflows.ScheduledAtKey.GetName(): enumspb.INDEXED_VALUE_TYPE_DATETIME,
	}
	existing, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	for name := range want {
		if _, ok := existing.GetCustomAttributes()[name]; ok {
			delete(want, name)
		}
	}
	if len(want) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: want,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes %v: %w", want, err)
	}
	logger.Info("Registered Temporal search attributes", "namespace", namespace, "attributes", want)
	return nil
}
