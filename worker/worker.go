package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
	// Series, when set, runs the SeriesOccurrence workflow (what the
	// schedules of series start) and its activity too.
	Series *activities.SeriesActivities
}

// New returns a worker that runs broadcast workflows with acts as their
// activities. Start it with Run.
func New(c client.Client, acts *activities.Activities, cfg Config) worker.Worker {
	if cfg.TaskQueue == "" {
		cfg.TaskQueue = workflows.TaskQueue
	}
	w := worker.New(c, cfg.TaskQueue, worker.Options{
		// A burst of due broadcasts is a burst of workflow tasks that each
		// run one local activity: poll them in parallel. Their publication
		// is the due dispatcher's (internal/due), so nothing here is held
		// and the SDK's limits on concurrent tasks serve.
		MaxConcurrentWorkflowTaskPollers: 8,
	})
	w.RegisterWorkflowWithOptions(workflows.Broadcast, workflow.RegisterOptions{Name: workflows.WorkflowName})
	w.RegisterActivity(acts)
	if cfg.Presence != nil {
		RegisterPresence(w, cfg.Presence)
	}
	if cfg.Series != nil {
		w.RegisterWorkflowWithOptions(workflows.SeriesOccurrence, workflow.RegisterOptions{Name: workflows.SeriesOccurrenceName})
		w.RegisterActivity(cfg.Series)
	}
	return w
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
