package chaos

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/testenv"
)

// shortForm are the scenarios make test runs: the ones that need no
// service stopped (make test's services are shared by every test).
var shortForm = []string{"worker-sigkill-hold", "api-sigkill", "relay-sigkill"}

// TestShortForm runs three of make chaos's scenarios against make test's
// services (one Kafka broker, so the topics have one replica) with a burst
// of 30, each with its own crier processes, and asserts the judgement:
// nothing lost, no duplicates after dropping copies, no client missed or
// got extra, every status final and agreeing with the events, the outbox
// empty. Lateness is logged, never asserted: the machine is shared.
func TestShortForm(t *testing.T) {
	t.Parallel()
	env := Env{DatabaseURL: testenv.DatabaseURL(t), Brokers: testenv.KafkaBrokers(t), TemporalAddress: testenv.TemporalAddress(t),
		StateDir: t.TempDir(), Burst: 30, DropData: true, Say: t.Logf}
	env.CrierBinary = buildCrier(t)
	byName := map[string]Scenario{}
	for _, s := range Scenarios() {
		byName[s.Name] = s
	}
	for _, name := range shortForm {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := RunScenario(t.Context(), env, byName[name])
			require.NoError(t, res.Err)
			v := res.Verdict
			t.Logf("%s: %s", name, res.summary())
			require.True(t, res.Settled, "not settled within %s: %s; notes: %v", res.Scenario.Settle, v.progress(), v.Notes)
			require.Positive(t, v.Published)
			for what, n := range map[string]int{"lost": v.Lost, "duplicates": v.Duplicates, "unretracted": v.Unretracted,
				"statuses wrong": v.StatusWrong, "outbox rows left": v.OutboxLeft, "foreign events": v.Foreign,
				"missed by clients": v.Missed, "extra at clients": v.Extra, "retractions missed": v.RetractMissed,
				"resets": v.Resets} {
				require.Zero(t, n, "%s; notes: %v", what, v.Notes)
			}
			logsOnFailure(t, env.StateDir, name)
		})
	}
}

// buildCrier builds this checkout's crier into the test's folder.
func buildCrier(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "crier")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/crier")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/crier: %s", out)
	return bin
}

// logsOnFailure shows the tail of each crier log of a failed scenario.
func logsOnFailure(t *testing.T, stateDir, name string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(stateDir, "logs", name, "*.log"))
		for _, l := range logs {
			raw, err := os.ReadFile(l)
			if err != nil {
				continue
			}
			if len(raw) > 4000 {
				raw = raw[len(raw)-4000:]
			}
			t.Logf("--- end of %s ---\n%s", l, raw)
		}
	})
}
