package bench

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// userHZ is the clock tick of /proc's CPU times: 100 a second on Linux.
const userHZ = 100

// processCPU is the CPU time (user and system) process pid has used, from
// Linux's /proc; ok is false where that cannot be read.
func processCPU(pid int) (used time.Duration, ok bool) {
	ticks, ok := statTicks(fmt.Sprintf("/proc/%d/stat", pid))
	return time.Duration(ticks) * time.Second / userHZ, ok
}

// processTicks is a process's user and system time from its stat file, in
// clock ticks; zero where it cannot be read.
func processTicks(path string) int64 {
	ticks, _ := statTicks(path)
	return ticks
}

// statTicks reads utime and stime, the 12th and 13th fields after the
// command name, from a /proc stat file.
func statTicks(path string) (int64, bool) {
	f := statFields(path)
	if len(f) < 13 {
		return 0, false
	}
	var user, system int64
	_, err1 := fmt.Sscan(f[11], &user)
	_, err2 := fmt.Sscan(f[12], &system)
	return user + system, err1 == nil && err2 == nil
}

func parentPID(path string) int {
	f := statFields(path)
	if len(f) < 2 {
		return 0
	}
	var ppid int
	_, _ = fmt.Sscan(f[1], &ppid)
	return ppid
}

// statFields are the fields of /proc/<pid>/stat after the command name,
// which may hold spaces and parentheses (it ends at the last ')'): the
// state is field 0, the parent 1, utime 11 and stime 12.
func statFields(path string) []string {
	raw, err := os.ReadFile(path) //nolint:gosec // G304: path is a /proc/<pid>/stat this package names (a fixture in tests)
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(raw[i+1:]))
}

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
