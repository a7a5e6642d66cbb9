package workflows

import (
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crier/crier/activities"
)

// SeriesOccurrenceName is the registered name of the SeriesOccurrence
// workflow: what each action of a series' Temporal Schedule starts.
const SeriesOccurrenceName = "SeriesOccurrence"

// ScheduledStartTimeKey is the search attribute Temporal sets on a workflow
// a schedule started: the action's nominal time.
var ScheduledStartTimeKey = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")

// SeriesOccurrenceInput names the series whose schedule started the run.
// A run an admin's trigger started (not the schedule) also names its
// occurrence and its time: a trigger is an occurrence of its own, never one
// the schedule makes in the same second.
type SeriesOccurrenceInput struct {
	SeriesID uuid.UUID
	Key      string    `json:",omitempty"`
	Nominal  time.Time `json:",omitzero"`
}

// MakeOccurrenceActivity is the registered name of the activity.
const MakeOccurrenceActivity = "MakeOccurrence"

// SeriesOccurrence makes one occurrence of a series: an ordinary broadcast
// with its own Broadcast workflow, made from the series' template as it
// stands when the action runs. All of it is one activity (the occurrence,
// its workflow start and the series' count commit together in PostgreSQL),
// retried until it succeeds or the series is gone: the occurrence's id is
// derived from the series and the action's time, so a retry finds what an
// earlier attempt made.
func SeriesOccurrence(ctx workflow.Context, in SeriesOccurrenceInput) (activities.OccurrenceResult, error) {
	nominal, ok := in.Nominal, !in.Nominal.IsZero()
	if !ok {
		nominal, ok = workflow.GetTypedSearchAttributes(ctx).GetTime(ScheduledStartTimeKey)
	}
	if !ok { // started by hand, neither by the schedule nor by a trigger
		nominal = workflow.Now(ctx)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second,
		},
	})
	var res activities.OccurrenceResult
	err := workflow.ExecuteActivity(ctx, MakeOccurrenceActivity, activities.OccurrenceInput{SeriesID: in.SeriesID, Nominal: nominal, Key: in.Key}).Get(ctx, &res)
	return res, err
}
