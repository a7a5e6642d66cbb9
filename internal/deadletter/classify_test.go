package deadletter_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/deadletter"
)

// TestClassify: only what no retry can fix is permanent; an outage is not.
func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		err       error
		reason    deadletter.Reason
		permanent bool
	}{
		{"marked", fmt.Errorf("decode: %w", deadletter.Permanent(deadletter.ReasonUndecodable, errors.New("bad JSON"))), deadletter.ReasonUndecodable, true},
		{"check violation", &pgconn.PgError{Code: "23514"}, deadletter.ReasonData, true},
		{"bad text", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "22021"}), deadletter.ReasonData, true},
		{"too many columns", &pgconn.PgError{Code: "54011"}, deadletter.ReasonData, true},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, "", false},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, "", false},
		{"table missing mid-migration", &pgconn.PgError{Code: "42P01"}, "", false},
		{"shutting down", &pgconn.PgError{Code: "57P01"}, "", false},
		{"timeout", context.DeadlineExceeded, "", false},
		{"connection refused", errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), "", false},
	} {
		reason, permanent := deadletter.Classify(tc.err)
		require.Equal(t, tc.permanent, permanent, tc.name)
		require.Equal(t, tc.reason, reason, tc.name)
	}
}

// TestProtect: a panic is a permanent failure, not a crash.
func TestProtect(t *testing.T) {
	t.Parallel()
	err := deadletter.Protect(func() error { panic("nil map") })
	reason, permanent := deadletter.Classify(err)
	require.True(t, permanent)
	require.Equal(t, deadletter.ReasonPanic, reason)
	require.ErrorContains(t, err, "nil map")
	require.NoError(t, deadletter.Protect(func() error { return nil }))
}

// TestIDIsThePosition: one id per consumer and position, whoever writes it.
func TestIDIsThePosition(t *testing.T) {
	t.Parallel()
	id := deadletter.ID("stream-tail", "broadcast_messages", 2, 41)
	require.Equal(t, id, deadletter.ID("stream-tail", "broadcast_messages", 2, 41))
	require.NotEqual(t, id, deadletter.ID("audience", "broadcast_messages", 2, 41))
	require.NotEqual(t, id, deadletter.ID("stream-tail", "broadcast_messages", 2, 42))
	require.NotEqual(t, id, deadletter.ID("stream-tail", "broadcast_messages", 24, 1))
}
