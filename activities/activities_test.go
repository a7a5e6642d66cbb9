package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
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
