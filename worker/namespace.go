package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// EnsureNamespaceRetention sets how long Temporal keeps the histories of
// closed workflows in namespace (its workflow execution retention) to
// retention, when it differs: every broadcast and every maintenance run
// leaves one, so without a bound they grow with traffic. Zero leaves the
// namespace alone (CRIER_TEMPORAL_RETENTION=off). Changing a namespace needs
// rights Crier may not have (Temporal Cloud changes namespaces through its
// own API, an authorizer may refuse): the error then says so, and the
// caller warns and goes on, as for RegisterSearchAttributes.
func EnsureNamespaceRetention(ctx context.Context, c client.Client, namespace string, retention time.Duration, logger *slog.Logger) error {
	if retention <= 0 {
		return nil
	}
	if namespace == "" {
		namespace = "default"
	}
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("describe namespace %s: %w", namespace, err)
	}
	current := desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
	if current == retention {
		return nil
	}
	_, err = c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
	})
	if err != nil {
		return fmt.Errorf("set the retention of namespace %s from %s to %s: %w", namespace, current, retention, err)
	}
	logger.Info("Set the Temporal namespace's retention of closed workflows", "namespace", namespace, "from", current, "to", retention)
	return nil
}
