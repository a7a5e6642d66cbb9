package workflows

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
)

// Temporal Web UI lists a broadcast's workflow by its title and audience.
func TestSummaryNamesTitleAndAudience(t *testing.T) {
	for want, target := range map[string]broadcast.Target{
		"Maintenance tonight · to everyone":         {Type: broadcast.TargetAll},
		"Maintenance tonight · to role ops, sales":  {Type: broadcast.TargetRole, IDs: []string{"ops", "sales"}},
		"Maintenance tonight · to users ann, bob":   {Type: broadcast.TargetSelected, IDs: []string{"ann", "bob"}},
		"Maintenance tonight · to 4 selected users": {Type: broadcast.TargetSelected, IDs: []string{"a", "b", "c", "d"}},
	} {
		require.Equal(t, want, Summary(broadcast.Broadcast{Title: "Maintenance tonight", Target: target}))
	}
	long := Summary(broadcast.Broadcast{Title: strings.Repeat("é", 200), Target: broadcast.Target{Type: broadcast.TargetAll}})
	require.LessOrEqual(t, len(long), 200+len("…"), "bounded, cut on a character boundary")
	require.True(t, strings.HasSuffix(long, "…"))
}
