package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// machineBusy is the whole machine's busy CPU time so far, in clock ticks
// (USER_HZ), from /proc/stat; zero where it cannot be read.
func machineBusy() int64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	// cpu user nice system idle iowait irq softirq steal guest guest_nice:
	// busy is all but idle and iowait, and guest time is in user already.
	var busy int64
	for i, f := range strings.Fields(line) {
		var n int64
		if _, err := fmt.Sscan(f, &n); err != nil || i == 4 || i == 5 || i > 8 {
			continue
		}
		busy += n
	}
	return busy
}

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
