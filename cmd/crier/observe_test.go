package main

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/metrics"
)

// TestWorkflowCountersKeepTheirNames: the counters the broadcast workflow
// counts through the Temporal SDK reach /metrics under the names the alerts
// and the dashboard use (deploy/), with the SDK's labels.
func TestWorkflowCountersKeepTheirNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	handler, closer := temporalMetrics(reg)
	tagged := handler.WithTags(map[string]string{"namespace": "default", "task_queue": "q", "workflow_type": "Broadcast"})
	tagged.Counter(metrics.PublishWakeups).Inc(3)
	tagged.Counter(metrics.PublishWokeLate).Inc(1)
	require.NoError(t, closer.Close()) // flushes to the registry

	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "crier_") {
			continue // tally's own
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			require.Equal(t, "Broadcast", labels["workflow_type"], f.GetName())
			got[f.GetName()] += m.GetCounter().GetValue()
		}
	}
	require.Equal(t, map[string]float64{"crier_publish_wakeups_total": 3, "crier_publish_woke_late_total": 1}, got)
}
