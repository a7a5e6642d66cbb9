package activities_test

import (
	"context"
	"testing"

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
