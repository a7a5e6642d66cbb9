package bench

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDriveCallsMakesEachCallOnceAtTheGivenConcurrency(t *testing.T) {
	t.Parallel()
	var (
		mu             sync.Mutex
		calls          = map[int]int{}
		inFlight, peak atomic.Int32
	)
	took, latencies, err := driveCalls(context.Background(), 4, 100, func(_ context.Context, i int) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p; p = peak.Load() {
			if peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond) // let the clients overlap
		mu.Lock()
		calls[i]++
		mu.Unlock()
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, took)
	require.Len(t, latencies, 100)
	require.Len(t, calls, 100)
	for i, n := range calls {
		require.Equal(t, 1, n, "call %d", i)
	}
	require.LessOrEqual(t, peak.Load(), int32(4))
}

func TestDriveCallsStopsAtTheFirstError(t *testing.T) {
	t.Parallel()
	refused := errors.New("refused")
	var made atomic.Int32
	_, latencies, err := driveCalls(context.Background(), 2, 1000, func(_ context.Context, i int) error {
		made.Add(1)
		if i == 10 {
			return refused
		}
		return nil
	})
	require.ErrorIs(t, err, refused)
	require.Nil(t, latencies)
	require.Less(t, made.Load(), int32(1000))
}

func TestCreationPathAddsItsSlices(t *testing.T) {
	t.Parallel()
	var p creationPath
	noop := func(context.Context, int) error { return nil }
	require.NoError(t, p.add(context.Background(), 2, 10, noop))
	require.NoError(t, p.add(context.Background(), 2, 10, noop))
	require.Equal(t, 20, p.calls)
	require.Len(t, p.latencies, 20)

	p = creationPath{calls: 500, took: 2 * time.Second}
	require.InDelta(t, 250, p.rate(), 1e-9)
	r := creationRun{api: creationPath{calls: 400, took: 2 * time.Second}, raw: p}
	require.InDelta(t, 0.8, r.ratio(), 1e-9)
}

func TestSlicesTakeTurnsABBA(t *testing.T) {
	t.Parallel()
	var order []byte
	for k := range 12 {
		if firstsTurn(k) {
			order = append(order, 'A')
		} else {
			order = append(order, 'B')
		}
	}
	require.Equal(t, "ABBAABBAABBA", string(order))
}

func TestFmtShareSpread(t *testing.T) {
	t.Parallel()
	require.Equal(t, "85 %", fmtShareSpread(0.85, 0.85, 0.85))
	require.Equal(t, "85 % (77 – 94 %)", fmtShareSpread(0.85, 0.77, 0.94))
	require.Equal(t, "1,234", fmtWholeRate(1234.4))
	require.Equal(t, "250 (200 – 300)", fmtWholeRateSpread([]float64{300, 200, 250}))
}

func TestProcessCPU(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	used, ok := processCPU(os.Getpid())
	require.True(t, ok)
	require.GreaterOrEqual(t, used, time.Duration(0))
	_, ok = processCPU(-1)
	require.False(t, ok)
}
