package cursor

import (
	"encoding/base64"
	"strings"
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

func TestKeyRoundTripAndRefusal(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"u1", "team/a b", "ünïcode", strings.Repeat("x", 256)} {
		got, err := DecodeKey(EncodeKey(key))
		require.NoError(t, err)
		require.Equal(t, key, got)
	}
	for _, bad := range []string{"", "!!", EncodeKey("a\x00b"), base64.RawURLEncoding.EncodeToString([]byte{0xff, 0xfe})} {
		_, err := DecodeKey(bad)
		require.ErrorIs(t, err, ErrBad, bad)
	}
}
