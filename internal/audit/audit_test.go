package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/testenv"
)

type testBundle struct {
	ctx  context.Context
	pool *pgxpool.Pool
	log  *audit.Log
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := testenv.Pool(t)
	log, err := audit.New(pool)
	require.NoError(t, err)
	return &testBundle{ctx: context.Background(), pool: pool, log: log}
}

var ada = audit.Actor{ID: "admin-1", Name: "Ada Admin", Roles: []string{"admin"}}

// record appends an entry of actor doing action to a target, with the target
// as its after.
func (tb *testBundle) record(t *testing.T, actor audit.Actor, action audit.Action, targetType audit.TargetType, targetID string) {
	t.Helper()
	require.NoError(t, tb.recordEntry(audit.Entry{Origin: audit.Origin{Actor: actor, RequestID: "req-" + targetID},
		Action: action, TargetType: targetType, TargetID: targetID, After: json.RawMessage(`{"id": "` + targetID + `"}`)}))
}

// recordEntry records e in a transaction of its own.
func (tb *testBundle) recordEntry(e audit.Entry) error {
	return pgx.BeginFunc(tb.ctx, tb.pool, func(tx pgx.Tx) error { return audit.Record(tb.ctx, tx, e) })
}

// list requires List to succeed and returns its page and cursor.
func (tb *testBundle) list(t *testing.T, f audit.Filter) ([]audit.Entry, string) {
	t.Helper()
	page, next, err := tb.log.List(tb.ctx, f)
	require.NoError(t, err)
	return page, next
}

func TestRecordAndList(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	before := json.RawMessage(`{"id": "b1", "status": "SCHEDULED"}`)
	after := json.RawMessage(`{"id": "b1", "status": "CANCELLED"}`)
	require.NoError(t, tb.recordEntry(audit.Entry{
		ID: 99, OccurredAt: time.Unix(0, 0), // ignored
		Origin: audit.Origin{Actor: ada, RequestID: "req-1", ClientRequestID: "client-1"},
		Action: audit.ActionBroadcastCancel, TargetType: audit.TargetBroadcast, TargetID: "b1",
		Before: before, After: after,
	}))
	require.NoError(t, tb.recordEntry(audit.Entry{
		Origin: audit.Origin{Actor: audit.Actor{ID: "bob", Name: "bob"}}, Action: audit.ActionUserImport, TargetType: audit.TargetUser,
		Detail: json.RawMessage(`{"imported": 3}`),
	}))

	page, next := tb.list(t, audit.Filter{})
	require.Empty(t, next)
	require.Len(t, page, 2)

	imported, cancelled := page[0], page[1]
	require.Greater(t, imported.ID, cancelled.ID, "newest first")
	require.Equal(t, audit.Actor{ID: "bob", Name: "bob", Roles: []string{}}, imported.Actor)
	require.Equal(t, audit.ActionUserImport, imported.Action)
	require.Empty(t, imported.TargetID)
	require.Empty(t, imported.RequestID)
	require.Nil(t, imported.Before)
	require.Nil(t, imported.After)
	require.JSONEq(t, `{"imported": 3}`, string(imported.Detail))

	require.NotEqual(t, int64(99), cancelled.ID)
	require.WithinDuration(t, time.Now(), cancelled.OccurredAt, time.Minute)
	require.Equal(t, time.UTC, cancelled.OccurredAt.Location())
	require.Equal(t, ada, cancelled.Actor)
	require.Equal(t, audit.TargetBroadcast, cancelled.TargetType)
	require.Equal(t, "b1", cancelled.TargetID)
	require.Equal(t, "req-1", cancelled.RequestID)
	require.Equal(t, "client-1", cancelled.ClientRequestID)
	require.JSONEq(t, string(before), string(cancelled.Before))
	require.JSONEq(t, string(after), string(cancelled.After))
	require.Nil(t, cancelled.Detail)

	raw, err := json.Marshal(cancelled)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw, &fields))
	require.ElementsMatch(t, []string{"id", "occurred_at", "actor", "action", "target_type", "target_id",
		"request_id", "client_request_id", "before", "after", "detail"}, keysOf(fields))
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A JSON null is stored as SQL NULL, so "before IS NULL" finds creations.
func TestRecordStoresJSONNullAsNull(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	require.NoError(t, tb.recordEntry(audit.Entry{Origin: audit.Origin{Actor: ada}, Action: audit.ActionBroadcastCreate,
		TargetType: audit.TargetBroadcast, TargetID: "b1", Before: json.RawMessage("null"), After: json.RawMessage(`{}`)}))
	var creations int
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT count(*) FROM audit_log WHERE before IS NULL`).Scan(&creations))
	require.Equal(t, 1, creations)
}

func TestRecordRefusesIncompleteEntries(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tests := []struct {
		name  string
		entry audit.Entry
		want  string
	}{
		{"no actor", audit.Entry{Action: audit.ActionUserUpsert, TargetType: audit.TargetUser}, "needs an actor"},
		{"unknown action", audit.Entry{Origin: audit.Origin{Actor: ada}, Action: "broadcast.delete", TargetType: audit.TargetBroadcast}, `"broadcast.delete"`},
		{"unknown target type", audit.Entry{Origin: audit.Origin{Actor: ada}, Action: audit.ActionUserUpsert, TargetType: "group"}, `"group"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tb.recordEntry(tt.entry)
			require.ErrorContains(t, err, tt.want)
		})
	}
	t.Cleanup(func() {
		page, _ := tb.list(t, audit.Filter{})
		require.Empty(t, page)
	})
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	bob := audit.Actor{ID: "bob", Name: "Bob", Roles: []string{"admin"}}
	tb.record(t, ada, audit.ActionBroadcastCreate, audit.TargetBroadcast, "b1")
	tb.record(t, ada, audit.ActionBroadcastCancel, audit.TargetBroadcast, "b1")
	tb.record(t, bob, audit.ActionBroadcastCreate, audit.TargetBroadcast, "b2")
	tb.record(t, bob, audit.ActionUserUpsert, audit.TargetUser, "b1") // a user whose id looks like a broadcast's
	tb.record(t, ada, audit.ActionUserImport, audit.TargetUser, "")

	type seen struct {
		Action audit.Action
		Target string
	}
	tests := []struct {
		name   string
		filter audit.Filter
		want   []seen
	}{
		{"all, newest first", audit.Filter{}, []seen{{audit.ActionUserImport, ""}, {audit.ActionUserUpsert, "b1"},
			{audit.ActionBroadcastCreate, "b2"}, {audit.ActionBroadcastCancel, "b1"}, {audit.ActionBroadcastCreate, "b1"}}},
		{"one target", audit.Filter{TargetType: audit.TargetBroadcast, TargetID: "b1"},
			[]seen{{audit.ActionBroadcastCancel, "b1"}, {audit.ActionBroadcastCreate, "b1"}}},
		{"a target type", audit.Filter{TargetType: audit.TargetUser},
			[]seen{{audit.ActionUserImport, ""}, {audit.ActionUserUpsert, "b1"}}},
		{"a target id of any type", audit.Filter{TargetID: "b1"},
			[]seen{{audit.ActionUserUpsert, "b1"}, {audit.ActionBroadcastCancel, "b1"}, {audit.ActionBroadcastCreate, "b1"}}},
		{"an actor", audit.Filter{ActorID: "bob"},
			[]seen{{audit.ActionUserUpsert, "b1"}, {audit.ActionBroadcastCreate, "b2"}}},
		{"an action", audit.Filter{Action: audit.ActionBroadcastCreate},
			[]seen{{audit.ActionBroadcastCreate, "b2"}, {audit.ActionBroadcastCreate, "b1"}}},
		{"all filters at once", audit.Filter{TargetType: audit.TargetBroadcast, TargetID: "b1", ActorID: "admin-1", Action: audit.ActionBroadcastCancel},
			[]seen{{audit.ActionBroadcastCancel, "b1"}}},
		{"nothing matches", audit.Filter{ActorID: "nobody"}, []seen{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page, next := tb.list(t, tt.filter)
			require.Empty(t, next)
			got := []seen{}
			for _, e := range page {
				got = append(got, seen{e.Action, e.TargetID})
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for i := range 7 {
		tb.record(t, ada, audit.ActionBroadcastCreate, audit.TargetBroadcast, fmt.Sprint("b", i))
		tb.record(t, ada, audit.ActionUserUpsert, audit.TargetUser, fmt.Sprint("u", i))
	}

	var seen []string
	cursor := ""
	for pages := 1; ; pages++ {
		require.LessOrEqual(t, pages, 3, "7 broadcasts in pages of 3 take 3 pages")
		page, next := tb.list(t, audit.Filter{TargetType: audit.TargetBroadcast, Cursor: cursor, Limit: 3})
		require.LessOrEqual(t, len(page), 3)
		for _, e := range page {
			seen = append(seen, e.TargetID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	require.Equal(t, []string{"b6", "b5", "b4", "b3", "b2", "b1", "b0"}, seen)

	page, _ := tb.list(t, audit.Filter{})
	require.Len(t, page, 14, "the default limit (50) holds all")
	page, next := tb.list(t, audit.Filter{Limit: 1000})
	require.Len(t, page, 14)
	require.Empty(t, next)
}

func TestListLimitIsCapped(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := tb.pool.Exec(tb.ctx, `INSERT INTO audit_log (actor_id, actor_name, action, target_type, target_id)
		SELECT 'admin-1', 'Ada', 'user.upsert', 'user', 'u' || i FROM generate_series(1, $1) i`, audit.MaxLimit+5)
	require.NoError(t, err)

	page, next := tb.list(t, audit.Filter{})
	require.Len(t, page, audit.DefaultLimit)
	require.NotEmpty(t, next)
	page, next = tb.list(t, audit.Filter{Limit: audit.MaxLimit + 1})
	require.Len(t, page, audit.MaxLimit)
	rest, last := tb.list(t, audit.Filter{Cursor: next, Limit: audit.MaxLimit})
	require.Len(t, rest, 5)
	require.Empty(t, last)
	require.Greater(t, page[len(page)-1].ID, rest[0].ID)
}

func TestListRefusesBadCursors(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for _, cursor := range []string{"not base64!", "MTIz" /* "123" without the prefix */, "YXVkaXQ6LTE" /* audit:-1 */, "YXVkaXQ6eA" /* audit:x */} {
		_, _, err := tb.log.List(tb.ctx, audit.Filter{Cursor: cursor})
		require.ErrorIs(t, err, audit.ErrBadCursor, cursor)
	}
}
