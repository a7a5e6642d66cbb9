package audience_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audience"
	"github.com/crier/crier/internal/audit"
)

// entries lists the audit entries of user changes, oldest first, as
// (target, before, after, detail) JSON texts.
func (tb *testBundle) entries(t *testing.T) [][4]string {
	t.Helper()
	log, err := audit.New(tb.pool)
	require.NoError(t, err)
	page, _, err := log.List(tb.ctx, audit.Filter{TargetType: audit.TargetUser})
	require.NoError(t, err)
	out := [][4]string{}
	for i := len(page) - 1; i >= 0; i-- {
		e := page[i]
		require.Equal(t, by, e.Origin)
		out = append(out, [4]string{e.TargetID, string(e.Before), string(e.After), string(e.Detail)})
	}
	return out
}

// TestImportRecordsEachRoleChange: an import records its counts and one
// entry per user whose roles it changed or whom it added, with the roles
// before and after, in its own transaction.
func TestImportRecordsEachRoleChange(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for _, u := range []audience.User{{ID: "u1", Roles: []string{"a"}}, {ID: "u2", Roles: []string{"b"}}, {ID: "u3", Roles: []string{"c"}}} {
		_, err := tb.audience.Upsert(tb.ctx, by, u)
		require.NoError(t, err)
	}
	before := len(tb.entries(t))
	require.Equal(t, 3, before, "one per upsert")
	_, err := tb.audience.Upsert(tb.ctx, by, audience.User{ID: "u3", Roles: []string{"c"}})
	require.NoError(t, err)
	require.Len(t, tb.entries(t), before, "an unchanged upsert records nothing")

	_, err = tb.audience.Import(tb.ctx, by, []audience.User{
		{ID: "u1", Name: "Renamed", Roles: []string{"a"}}, // roles unchanged
		{ID: "u2", Roles: []string{"x", "b"}},
		{ID: "u4", Roles: []string{"y"}},
	})
	require.NoError(t, err)
	require.Equal(t, [][4]string{
		{"", "", "", `{"imported": 3, "roles_changed": 2}`},
		{"u2", `{"roles": ["b"]}`, `{"roles": ["b", "x"]}`, ""},
		{"u4", "", `{"roles": ["y"]}`, ""},
	}, tb.entries(t)[before:])
}

// TestDirectoryChangesFailWithTheirEntry: a user change whose audit entry
// cannot be written is not made.
func TestDirectoryChangesFailWithTheirEntry(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := tb.audience.Upsert(tb.ctx, by, audience.User{ID: "u1", Roles: []string{"a"}})
	require.NoError(t, err)
	// As the owner: the log refuses this actor's entries.
	_, err = tb.pool.Exec(tb.ctx, `ALTER TABLE audit_log ADD CONSTRAINT refuse_mallory CHECK (actor_id <> 'mallory') NOT VALID`)
	require.NoError(t, err)
	mallory := audit.Origin{Actor: audit.Actor{ID: "mallory", Name: "Mallory"}}

	_, err = tb.audience.Upsert(tb.ctx, mallory, audience.User{ID: "u1", Roles: []string{"admin"}})
	require.ErrorContains(t, err, "refuse_mallory")
	_, err = tb.audience.Import(tb.ctx, mallory, []audience.User{{ID: "u1", Roles: []string{"admin"}}, {ID: "u2"}})
	require.ErrorContains(t, err, "refuse_mallory")

	u, err := tb.audience.Get(tb.ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, u.Roles)
	require.Equal(t, 1, tb.count(t, `SELECT count(*) FROM users`))
}
