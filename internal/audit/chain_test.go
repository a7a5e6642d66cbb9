package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/crier/crier/internal/audit"
)

// recordN records n entries, one transaction each.
func (tb *testBundle) recordN(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		tb.record(t, ada, audit.ActionBroadcastCreate, audit.TargetBroadcast, fmt.Sprint("b", i))
	}
}

// exec runs sql as the database's owner, the only one who can tamper with
// the log (the application's role cannot update or delete it).
func (tb *testBundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := tb.pool.Exec(tb.ctx, sql, args...)
	require.NoError(t, err)
}

// head is the hash of the newest entry as stored.
func (tb *testBundle) head(t *testing.T) []byte {
	t.Helper()
	var h []byte
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&h))
	return h
}

func TestVerifyCleanChain(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	chain, err := audit.Verify(tb.ctx, tb.pool, nil)
	require.NoError(t, err)
	require.Equal(t, audit.Chain{}, chain, "an empty log verifies, with no head")

	tb.recordN(t, 3)
	require.NoError(t, pgx.BeginFunc(tb.ctx, tb.pool, func(tx pgx.Tx) error {
		return audit.RecordAll(tb.ctx, tx, []audit.Entry{
			{Origin: audit.Origin{Actor: ada}, Action: audit.ActionUserImport, TargetType: audit.TargetUser, Detail: json.RawMessage(`{"imported": 2}`)},
			{Origin: audit.Origin{Actor: ada}, Action: audit.ActionUserImport, TargetType: audit.TargetUser, TargetID: "u1", After: json.RawMessage(`{"roles": ["ops"]}`)},
			{Origin: audit.Origin{Actor: ada}, Action: audit.ActionUserImport, TargetType: audit.TargetUser, TargetID: "u2", Before: json.RawMessage(`{"roles": []}`)},
		})
	}))
	// A rolled-back entry leaves a gap in the ids, not in the chain.
	require.Error(t, pgx.BeginFunc(tb.ctx, tb.pool, func(tx pgx.Tx) error {
		require.NoError(t, audit.Record(tb.ctx, tx, audit.Entry{Origin: audit.Origin{Actor: ada}, Action: audit.ActionUserUpsert, TargetType: audit.TargetUser}))
		return errors.New("roll back")
	}))
	tb.recordN(t, 1)
	// The hash does not depend on the session's time zone.
	tb.exec(t, `SET TIME ZONE 'Asia/Kathmandu'`)

	chain, err = audit.Verify(tb.ctx, tb.pool, nil)
	require.NoError(t, err)
	require.EqualValues(t, 7, chain.Entries)
	require.Equal(t, tb.head(t), chain.Head)
	require.Len(t, chain.Head, 32, "sha256")
}

// TestVerifyFindsTampering: an entry deleted, changed or inserted after it
// was recorded is reported, by id, as the first break of the chain.
func TestVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// tamper acts on entries 1 to 5 (id 3 missing: its transaction
		// rolled back).
		tamper func(t *testing.T, tb *testBundle)
		id     int64
		reason string
	}{
		{"a deleted entry", func(t *testing.T, tb *testBundle) {
			tb.exec(t, `DELETE FROM audit_log WHERE id = 4`)
		}, 5, "does not link to entry 2"},
		{"the first entry deleted", func(t *testing.T, tb *testBundle) {
			tb.exec(t, `DELETE FROM audit_log WHERE id = 1`)
		}, 2, "does not link to the start of the log"},
		{"the only entry after a deletion", func(t *testing.T, tb *testBundle) {
			tb.exec(t, `DELETE FROM audit_log WHERE id IN (1, 2, 4)`)
		}, 5, "does not link to the start of the log"},
		{"a changed entry", func(t *testing.T, tb *testBundle) {
			tb.exec(t, `UPDATE audit_log SET actor_id = 'mallory' WHERE id = 2`)
		}, 2, "was changed"},
		{"a changed time", func(t *testing.T, tb *testBundle) {
			tb.exec(t, `UPDATE audit_log SET occurred_at = occurred_at - interval '1 microsecond' WHERE id = 4`)
		}, 4, "was changed"},
		{"a changed entry whose hash was rewritten", func(t *testing.T, tb *testBundle) {
			tb.exec(t, `UPDATE audit_log SET after = '{"id": "forged"}' WHERE id = 2`)
			tb.exec(t, `UPDATE audit_log a SET hash = audit_log_hash(a) WHERE id = 2`)
		}, 4, "does not link to entry 2"},
		{"an entry inserted with the links it should have", func(t *testing.T, tb *testBundle) {
			tb.insertBetween(t, 3, `(SELECT hash FROM audit_log WHERE id = 2)`)
		}, 3, "it was inserted: entry 4 links past it, to entry 2"},
		{"an entry inserted with any link", func(t *testing.T, tb *testBundle) {
			tb.insertBetween(t, 3, `sha256('x')`)
		}, 3, "it was inserted: entry 4 links past it, to entry 2"},
		{"an entry inserted before the first", func(t *testing.T, tb *testBundle) {
			tb.insertBetween(t, 0, `NULL`)
		}, 0, "it was inserted: entry 1 links past it, to the start of the log"},
		{"an entry inserted at the end, linked wrongly", func(t *testing.T, tb *testBundle) {
			tb.insertBetween(t, 6, `sha256('x')`)
		}, 6, "does not link to entry 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			tb.recordN(t, 2)
			require.Error(t, pgx.BeginFunc(tb.ctx, tb.pool, func(tx pgx.Tx) error {
				require.NoError(t, audit.Record(tb.ctx, tx, audit.Entry{Origin: audit.Origin{Actor: ada}, Action: audit.ActionUserUpsert, TargetType: audit.TargetUser}))
				return errors.New("roll back, leaving id 3 unused")
			}))
			tb.recordN(t, 2)
			_, err := audit.Verify(tb.ctx, tb.pool, nil)
			require.NoError(t, err, "intact before the tampering")

			tt.tamper(t, tb)
			_, err = audit.Verify(tb.ctx, tb.pool, nil)
			var broken *audit.BrokenError
			require.ErrorAs(t, err, &broken)
			require.Equal(t, tt.id, broken.ID, "%v", err)
			require.Contains(t, broken.Reason, tt.reason)
			require.Contains(t, err.Error(), fmt.Sprintf("audit log broken at entry %d: ", tt.id))
		})
	}
}

// insertBetween inserts an entry with id as the owner can, by turning the
// chain's trigger off, with prev_hash from the SQL expression prev and a
// hash computed as the trigger would.
func (tb *testBundle) insertBetween(t *testing.T, id int64, prev string) {
	t.Helper()
	tb.exec(t, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain`)
	tb.exec(t, `INSERT INTO audit_log (id, actor_id, actor_name, action, target_type, target_id, prev_hash, hash)
		VALUES ($1, 'mallory', 'Mallory', 'user.upsert', 'user', 'mallory', `+prev+`, '\x00')`, id)
	tb.exec(t, `UPDATE audit_log a SET hash = audit_log_hash(a) WHERE id = $1`, id)
	tb.exec(t, `ALTER TABLE audit_log ENABLE TRIGGER audit_log_chain`)
}

// TestVerifyFromAStart: a log whose oldest entries were deleted on purpose
// verifies from the hash of the last one deleted.
func TestVerifyFromAStart(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.recordN(t, 4)
	var cut []byte
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT hash FROM audit_log WHERE id = 2`).Scan(&cut))
	tb.exec(t, `DELETE FROM audit_log WHERE id <= 2`)

	_, err := audit.Verify(tb.ctx, tb.pool, nil)
	require.ErrorAs(t, err, new(*audit.BrokenError))
	chain, err := audit.Verify(tb.ctx, tb.pool, cut)
	require.NoError(t, err)
	require.EqualValues(t, 2, chain.Entries)
}

// TestConcurrentRecordsKeepOneChain: entries recorded by many transactions
// at once still form one linear chain in id order.
func TestConcurrentRecordsKeepOneChain(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	const writers, each = 16, 10
	g, ctx := errgroup.WithContext(tb.ctx)
	for w := range writers {
		g.Go(func() error {
			for i := range each {
				err := pgx.BeginFunc(ctx, tb.pool, func(tx pgx.Tx) error {
					return audit.Record(ctx, tx, audit.Entry{Origin: audit.Origin{Actor: ada}, Action: audit.ActionUserUpsert,
						TargetType: audit.TargetUser, TargetID: fmt.Sprintf("w%d-%d", w, i)})
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	chain, err := audit.Verify(tb.ctx, tb.pool, nil)
	require.NoError(t, err)
	require.EqualValues(t, writers*each, chain.Entries)
}

// TestRecordRefusesRepeatableRead: a snapshot older than the newest entry
// would fork the chain, so the trigger refuses to record under one.
func TestRecordRefusesRepeatableRead(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	err := pgx.BeginTxFunc(context.Background(), tb.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		return audit.Record(tb.ctx, tx, audit.Entry{Origin: audit.Origin{Actor: ada}, Action: audit.ActionUserUpsert, TargetType: audit.TargetUser})
	})
	require.ErrorContains(t, err, "READ COMMITTED only")
}
