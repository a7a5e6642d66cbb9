package worker

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	tlog "go.temporal.io/sdk/log"
)

// TestQuietHeldTasks: the SDK's long-task warning is dropped for a task held
// within a publish hold and kept for a longer one; other logs pass.
func TestQuietHeldTasks(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	logger := tlog.NewStructuredLogger(slog.New(QuietHeldTasks(slog.NewTextHandler(&out, nil))).With("component", "temporal"))

	logger.Warn("[TMPRL1104] run:3:1 Workflow task duration exceeded 5 seconds.", "WorkflowTaskDuration", 30*time.Second)
	require.Empty(t, out.String(), "a task held for a publish is not warned about")

	logger.Warn("[TMPRL1104] run:3:1 Workflow task duration exceeded 5 seconds.", "WorkflowTaskDuration", longestHold+time.Second)
	require.Contains(t, out.String(), "TMPRL1104", "a task held longer than any publish is")

	out.Reset()
	logger.Warn("Something else", "WorkflowTaskDuration", time.Second)
	require.Contains(t, out.String(), "Something else")
}
