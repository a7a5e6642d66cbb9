package audience_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
)

func TestCountAudience(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.users(t, map[string][]string{
		"u1": {"ops", "dev"}, // two matching roles, counted once
		"u2": {"ops"},
		"u3": {"sales"},
		"u4": nil,
	})
	tests := []struct {
		name   string
		target broadcast.Target
		want   int64
	}{
		{"ALL counts every user", all(), 4},
		{"ROLE counts users holding any of the roles once", roles("ops", "dev"), 2},
		{"ROLE with a role nobody holds", roles("board"), 0},
		{"SELECTED counts distinct ids, known or not", selected("u1", "x9", "u1", " x9 "), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := tb.audience.CountAudience(tb.ctx, tt.target)
			require.NoError(t, err)
			require.Equal(t, tt.want, n)
		})
	}
	_, err := tb.audience.CountAudience(tb.ctx, broadcast.Target{Type: "SOME"})
	require.Error(t, err)
}
