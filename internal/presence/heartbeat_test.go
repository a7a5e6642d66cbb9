package presence_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/testenv"
)

func TestHeartbeatKeepsConnectionsFresh(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.connect(t, "node-a", "u1")
	tb.connect(t, "node-b", "u2")
	tb.age(t, "node-a", 5*time.Minute)
	tb.age(t, "node-b", 5*time.Minute)

	hb, err := presence.NewHeartbeat(tb.store, presence.HeartbeatConfig{NodeID: "node-a", Interval: 20 * time.Millisecond, Logger: testenv.Logger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(tb.ctx)
	done := make(chan error, 1)
	go func() {
		done <- hb.Run(ctx)
	}()

	testenv.Eventually(t, 10*time.Second, func() error {
		if age := tb.lastSeen(t, "node-a"); age > time.Minute {
			return fmt.Errorf("node-a last seen %s ago", age)
		}
		return nil
	})
	require.Greater(t, tb.lastSeen(t, "node-b"), 4*time.Minute, "only the heartbeat's own node is refreshed")

	cancel()
	require.NoError(t, <-done)
}

// flakyToucher fails its first failures touches, then succeeds.
type flakyToucher struct {
	mu       sync.Mutex
	failures int
	calls    int
}

func (f *flakyToucher) Touch(_ context.Context, _ string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.failures {
		return 0, errors.New("connection refused")
	}
	return 7, nil
}

func TestHeartbeatSurvivesFailures(t *testing.T) {
	t.Parallel()
	store := &flakyToucher{failures: 3}
	touched := make(chan int64, 100)

	hb, err := presence.NewHeartbeat(store, presence.HeartbeatConfig{
		NodeID: "node-a", Interval: 5 * time.Millisecond, Logger: testenv.Logger(t),
		OnTouch: func(_ context.Context, n int64) { touched <- n },
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hb.Run(ctx) }()

	select {
	case n := <-touched:
		require.EqualValues(t, 7, n)
	case <-time.After(10 * time.Second):
		t.Fatal("the heartbeat never recovered from its failures")
	}
	store.mu.Lock()
	require.Greater(t, store.calls, store.failures)
	store.mu.Unlock()

	cancel()
	require.NoError(t, <-done)
}
