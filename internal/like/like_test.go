package like

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestContainsEscapesWhatLIKEMeans(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "%%"},
		{"ops", "%ops%"},
		{"100%", `%100\%%`},
		{"a_b", `%a\_b%`},
		{`C:\tmp`, `%C:\\tmp%`},
		{`\%_`, `%\\\%\_%`},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Contains(tt.in), tt.in)
	}
}
