package bench

import (
	"context"
	"runtime"
	"time"
)

// quiet is the machine's busy share below which a scenario may start.
const quiet = 0.25

// Settle waits, up to within, until the machine is quiet: less than a
// quarter of its CPU busy over a second. A scenario measured while the
// previous one's leftovers still run (a burst's workflows finishing, its
// consumers catching up) would report their load as its own. It returns the
// last busy share seen.
func Settle(ctx context.Context, within time.Duration) float64 {
	deadline := time.Now().Add(within)
	cores := float64(runtime.NumCPU())
	for {
		before := machineBusy()
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(time.Second):
		}
		share := float64(machineBusy()-before) / userHZ / cores
		if share < quiet || time.Now().After(deadline) {
			return share
		}
	}
}
