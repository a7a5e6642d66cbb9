package workflows_test

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crier/crier/internal/testenv"
	"github.com/crier/crier/workflows"
)

// TestReplayRecordedHistories replays every recorded history against the
// workflow code as it is now. A change that would make a broadcast already
// sleeping in production take a different path on its next wake-up (commands
// added, removed or reordered without workflow.GetVersion) fails here instead
// of blocking that broadcast's workflow task forever. It needs no service.
// See docs/workflow-versioning.md.
func TestReplayRecordedHistories(t *testing.T) {
	t.Parallel()
	for _, rec := range recordings {
		require.FileExists(t, filepath.Join(historiesDir, rec.file),
			"every path in recordings has a fixture: re-record with %s=1 (docs/workflow-versioning.md)", recordEnv)
	}
	// Subfolders hold the histories of earlier workflow code, kept while
	// workflows it started may still be running.
	var files []string
	require.NoError(t, filepath.WalkDir(historiesDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return err
	}))
	for _, file := range files {
		name, err := filepath.Rel(historiesDir, file)
		require.NoError(t, err)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			t.Parallel()
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(workflows.Broadcast, workflow.RegisterOptions{Name: workflows.WorkflowName})
			replayer.RegisterWorkflowWithOptions(workflows.PresenceCleanup, workflow.RegisterOptions{Name: workflows.PresenceCleanupName})
			replayer.RegisterWorkflowWithOptions(workflows.SeriesOccurrence, workflow.RegisterOptions{Name: workflows.SeriesOccurrenceName})
			err := replayer.ReplayWorkflowHistoryFromJSONFile(tlog.NewStructuredLogger(testenv.Logger(t)), file)
			require.NoError(t, err, "the workflow code no longer replays %s: guard the change with "+
				"workflow.GetVersion, or ship it to new workflows only (docs/workflow-versioning.md)", file)
		})
	}
}
