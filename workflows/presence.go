package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/retention"
)

// PresenceCleanupName is the registered name of the PresenceCleanup workflow.
const PresenceCleanupName = "PresenceCleanup"

// versionRetention is the change that made each run also delete rows past
// their retention horizon (issue 12): runs recorded before it removed stale
// connections only (docs/workflow-versioning.md).
const versionRetention = "maintenance-retention"

// PresenceCleanupInput configures one maintenance run.
type PresenceCleanupInput struct {
	// StaleAfter is how old a connection's last refresh must be for it to be
	// removed. Default presence.DefaultRemoveAfter (60 s).
	StaleAfter time.Duration
	// Retention is how long each table keeps its rows; a zero horizon leaves
	// its table alone, as the runs of a schedule made before retention do.
	Retention RetentionHorizons `json:",omitzero"`
}

// RetentionHorizons is how long each table that grows with traffic keeps
// its rows (internal/retention).
type RetentionHorizons struct {
	// Outbox keeps events written to Kafka (CRIER_RETAIN_OUTBOX). Rows not
	// yet written stay whatever their age.
	Outbox time.Duration `json:",omitzero"`
	// ProcessedEvents keeps the audience consumer's record of the events it
	// applied, which drops redeliveries (CRIER_RETAIN_PROCESSED_EVENTS).
	ProcessedEvents time.Duration `json:",omitzero"`
	// Deliveries keeps the per-user rows of broadcasts that ended
	// (CRIER_RETAIN_DELIVERIES).
	Deliveries time.Duration `json:",omitzero"`
	// StreamEvents keeps the stream log: the replay window
	// (CRIER_SSE_REPLAY_WINDOW).
	StreamEvents time.Duration `json:",omitzero"`
}

// tables are the horizons as the retention activity takes them, in
// retention.Tables' order: the order of a run's commands.
func (h RetentionHorizons) tables() []activities.PruneTableInput {
	return []activities.PruneTableInput{
		{Table: retention.Outbox, Horizon: h.Outbox},
		{Table: retention.ProcessedEvents, Horizon: h.ProcessedEvents},
		{Table: retention.Deliveries, Horizon: h.Deliveries},
		{Table: retention.StreamEvents, Horizon: h.StreamEvents},
	}
}

// PresenceCleanupResult counts what one run removed and deleted.
type PresenceCleanupResult struct {
	// Removed counts the stale connections removed.
	Removed int64
	// Deleted counts the rows each table's retention deleted, for the
	// tables with a horizon.
	Deleted map[retention.Table]int64 `json:",omitempty"`
	// Behind lists the tables whose run stopped at its bound with rows past
	// the horizon left: the next runs go on with them.
	Behind []retention.Table `json:",omitempty"`
}

// presenceActs lets the workflow name its activities by method.
var presenceActs *activities.PresenceActivities

// PresenceCleanup is the cluster's maintenance run. It removes the
// connections of API nodes that stopped refreshing them (crashed, or cut
// off), then deletes, table by table, the rows past their retention
// horizon. A Temporal Schedule starts it once a minute for the whole
// cluster, so exactly one run happens per minute however many workers
// there are, with no lock to take or leak. A table whose deletes fail does
// not stop the others; the run then fails, and the next one tries again.
func PresenceCleanup(ctx workflow.Context, in PresenceCleanupInput) (PresenceCleanupResult, error) {
	if in.StaleAfter == 0 {
		in.StaleAfter = presence.DefaultRemoveAfter
	}
	if err := in.check(); err != nil {
		return PresenceCleanupResult{}, err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         maintenanceRetry,
	})
	var out activities.RemoveStaleConnectionsResult
	err := workflow.ExecuteActivity(ctx, presenceActs.RemoveStaleConnections,
		activities.RemoveStaleConnectionsInput{StaleAfter: in.StaleAfter}).Get(ctx, &out)
	res := PresenceCleanupResult{Removed: out.Removed}
	if workflow.GetVersion(ctx, versionRetention, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		if err != nil {
			return PresenceCleanupResult{}, err
		}
		return res, nil
	}
	retainErr := retain(ctx, in.Retention, &res)
	logRun(ctx, res, err, retainErr)
	return res, errors.Join(err, retainErr)
}

// maintenanceRetry is a few quick attempts that ride out a blip; past them
// the activity fails visibly, and the next run a minute later tries again
// anyway.
var maintenanceRetry = &temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    10 * time.Second,
	MaximumAttempts:    3,
}

// check refuses ages no run can use; zero horizons are fine (no retention).
func (in PresenceCleanupInput) check() error {
	bad := func(what string, d time.Duration) error {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s %s must be positive", what, d), "InvalidInput", nil)
	}
	if in.StaleAfter < 0 {
		return bad("StaleAfter", in.StaleAfter)
	}
	for _, t := range in.Retention.tables() {
		if t.Horizon < 0 {
			return bad("the retention horizon of "+string(t.Table), t.Horizon)
		}
	}
	return nil
}

// retain runs the retention activity for each table with a horizon, one
// after the other (so the deletes never compete for the database), and
// records what each deleted in res. A table whose activity fails is
// skipped; the errors are returned together.
func retain(ctx workflow.Context, h RetentionHorizons, res *PresenceCleanupResult) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// At most retention.DefaultMaxBatches batches of 10,000 rows: well
		// under a minute, so three attempts end before the run's own
		// timeout (five intervals).
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         maintenanceRetry,
	})
	var errs []error
	for _, t := range h.tables() {
		if t.Horizon == 0 {
			continue
		}
		var out activities.PruneTableResult
		if err := workflow.ExecuteActivity(ctx, presenceActs.PruneTable, t).Get(ctx, &out); err != nil {
			errs = append(errs, fmt.Errorf("retention of %s: %w", t.Table, err))
			continue
		}
		if res.Deleted == nil {
			res.Deleted = map[retention.Table]int64{}
		}
		res.Deleted[t.Table] = out.Deleted
		if out.More {
			res.Behind = append(res.Behind, t.Table)
		}
	}
	return errors.Join(errs...)
}

// logRun logs one line per run: what it removed and deleted, table by
// table, and what failed.
func logRun(ctx workflow.Context, res PresenceCleanupResult, presenceErr, retainErr error) {
	attrs := []any{"connections_removed", res.Removed}
	for _, t := range retention.Tables {
		if n, ok := res.Deleted[t]; ok {
			attrs = append(attrs, string(t)+"_deleted", n)
		}
	}
	if len(res.Behind) > 0 {
		attrs = append(attrs, "more_left_in", res.Behind)
	}
	logger := workflow.GetLogger(ctx)
	if err := errors.Join(presenceErr, retainErr); err != nil {
		logger.Warn("Maintenance run failed in part; the next run tries again", append(attrs, "error", err)...)
		return
	}
	logger.Info("Maintenance run", attrs...)
}
