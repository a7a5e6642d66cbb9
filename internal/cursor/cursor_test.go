package cursor

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestRoundTripAndRefusal(t *testing.T) {
	t.Parallel()
	at, id := time.Date(2026, 12, 1, 9, 0, 0, 123456000, time.UTC), uuid.New()
	gotAt, gotID, err := Decode(Encode(at, id))
	require.NoError(t, err)
	require.True(t, at.Equal(gotAt))
	require.Equal(t, id, gotID)
	for _, bad := range []string{"", "!!", "bm90IGEgY3Vyc29y", Encode(at, id)[:10]} {
		_, _, err := Decode(bad)
		require.ErrorIs(t, err, ErrBad, bad)
	}
}
