package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
)

// stillScheduled is a store whose publish changes nothing and leaves the
// broadcast SCHEDULED, as a publish racing its own creation once did.
type stillScheduled struct{ activities.Store }

func (stillScheduled) Publish(context.Context, uuid.UUID) (store.Result, error) {
	return store.Result{Broadcast: broadcast.Broadcast{Status: broadcast.StatusScheduled}}, nil
}

func TestPublishNeverAnswersStillScheduled(t *testing.T) {
	t.Parallel()
	a := &activities.Activities{Store: stillScheduled{}}
	_, err := a.Publish(context.Background(), activities.TransitionInput{BroadcastID: uuid.New()})
	require.Error(t, err, "the workflow must retry, not end with an unpublished broadcast")
}

func TestPublishHoldsUntilNotBefore(t *testing.T) {
	t.Parallel()
	var waited []time.Time
	a := &activities.Activities{Store: nil, WaitUntil: func(_ context.Context, at time.Time) error {
		waited = append(waited, at)
		return context.Canceled
	}}
	at := time.Now().Add(time.Hour)
	_, err := a.Publish(context.Background(), activities.TransitionInput{BroadcastID: uuid.New(), NotBefore: at})
	require.ErrorIs(t, err, context.Canceled, "a hold ended by the context publishes nothing")
	require.Equal(t, []time.Time{at}, waited)
}

func TestPublishHoldEndsWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The default hold is a real timer; the store is never reached.
	_, err := (&activities.Activities{}).Publish(ctx, activities.TransitionInput{BroadcastID: uuid.New(), NotBefore: time.Now().Add(time.Hour)})
	require.ErrorIs(t, err, context.Canceled)
}

// TestChangesRecordWhoAsked: the cancel and reschedule activities commit
// the audit entry of whoever the workflow says asked, with their change.
func TestChangesRecordWhoAsked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Pool(t)
	st := store.New(pool)
	by := audit.Origin{Actor: audit.Actor{ID: "ada", Name: "Ada", Roles: []string{"admin"}}, RequestID: "req-1", ClientRequestID: "client-1"}
	id := uuid.Must(uuid.NewV7())
	at := time.Now().Add(time.Hour).UTC().Truncate(broadcast.Precision)
	exp := at.Add(time.Hour)
	_, _, err := st.Insert(ctx, by, broadcast.Broadcast{ID: id, Status: broadcast.StatusScheduled, Sender: broadcast.Sender{ID: "ada", Name: "Ada"},
		Title: "t", Content: "c", Category: "ops", Priority: broadcast.PriorityNormal, Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}},
		ScheduledAt: &at, ExpiresAt: &exp, WorkflowID: broadcast.WorkflowID(id)}, []byte("h"), nil)
	require.NoError(t, err)
	a := &activities.Activities{Store: st}
	signal := audit.Origin{Actor: audit.Actor{ID: "temporal-signal", Name: "temporal-signal", Roles: []string{}}}

	later := at.Add(10 * time.Minute)
	out, err := a.Reschedule(ctx, activities.RescheduleInput{BroadcastID: id, ScheduledAt: &later, By: by})
	require.NoError(t, err)
	require.True(t, out.Applied)
	out, err = a.Cancel(ctx, activities.CancelInput{BroadcastID: id, By: signal})
	require.NoError(t, err)
	require.True(t, out.Applied)

	log, err := audit.New(pool)
	require.NoError(t, err)
	page, _, err := log.List(ctx, audit.Filter{TargetID: id.String()})
	require.NoError(t, err)
	require.Len(t, page, 3)
	require.Equal(t, audit.ActionBroadcastCancel, page[0].Action)
	require.Equal(t, signal, page[0].Origin)
	require.Equal(t, audit.ActionBroadcastReschedule, page[1].Action)
	require.Equal(t, by, page[1].Origin)
}
