package worker_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/crier/crier/internal/testenv"
	"github.com/crier/crier/worker"
)

// A worker sets the namespace's retention when it differs, leaves it alone
// when it matches or when told off, and reports a namespace it cannot
// change (here, one that does not exist) as an error the caller warns
// about.
func TestEnsureNamespaceRetention(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	// A namespace of this test's own: the shared test server's default one
	// is every other test's.
	ns := testenv.Name("crier-retention")
	_, err := tb.client.WorkflowService().RegisterNamespace(tb.ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	require.NoError(t, err)
	retention := func() time.Duration {
		t.Helper()
		d, err := tb.client.WorkflowService().DescribeNamespace(tb.ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
		require.NoError(t, err)
		return d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
	}
	logger := testenv.Logger(t)

	require.NoError(t, worker.EnsureNamespaceRetention(tb.ctx, tb.client, ns, 7*24*time.Hour, logger))
	require.Equal(t, 7*24*time.Hour, retention())
	require.NoError(t, worker.EnsureNamespaceRetention(tb.ctx, tb.client, ns, 7*24*time.Hour, logger), "a match changes nothing")
	require.NoError(t, worker.EnsureNamespaceRetention(tb.ctx, tb.client, ns, 0, logger), "off")
	require.Equal(t, 7*24*time.Hour, retention())

	err = worker.EnsureNamespaceRetention(tb.ctx, tb.client, testenv.Name("no-such-namespace"), 48*time.Hour, logger)
	require.ErrorContains(t, err, "describe namespace")
}
