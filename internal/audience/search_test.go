package audience_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audience"
)

// listIDs pages through List with p in pages of limit and returns the ids
// seen, in order.
func (tb *testBundle) listIDs(t *testing.T, p audience.ListParams, limit int) []string {
	t.Helper()
	p.Limit = limit
	seen := []string{}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 50, "paging does not end")
		page, next, err := tb.audience.List(tb.ctx, p)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), limit)
		for _, u := range page {
			seen = append(seen, u.ID)
		}
		if next == "" {
			return seen
		}
		p.Cursor = next
	}
}

// List finds users by id or name in any case, by role, both at once, and
// pages through what it finds by id; search text is matched as written.
func TestListUsers(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for _, u := range []audience.User{
		{ID: "ada", Name: "Ada Lovelace", Roles: []string{"dev", "ops"}},
		{ID: "bob", Name: "Robert 100%", Roles: []string{"sales"}},
		{ID: "cy_d", Name: "Cyd", Roles: []string{"ops"}},
		{ID: "cyxd", Name: "Cy X. D.", Roles: []string{"ops"}},
		{ID: "dev-bot", Name: "", Roles: nil},
		{ID: "room", Name: "Room 1000"},
		{ID: `team\eve`, Name: "Eve", Roles: []string{"Ops"}},
	} {
		_, err := tb.audience.Upsert(tb.ctx, by, u)
		require.NoError(t, err)
	}

	tests := []struct {
		name string
		p    audience.ListParams
		want []string
	}{
		{"everyone, by id", audience.ListParams{}, []string{"ada", "bob", "cy_d", "cyxd", "dev-bot", "room", `team\eve`}},
		{"text in the id", audience.ListParams{Text: "BOT"}, []string{"dev-bot"}},
		{"text in the name, any case", audience.ListParams{Text: "lovelace"}, []string{"ada"}},
		{"text in id or name", audience.ListParams{Text: "ev"}, []string{"dev-bot", `team\eve`}},
		{"% is a percent sign", audience.ListParams{Text: "100%"}, []string{"bob"}}, // not Room 1000
		{"_ is an underscore", audience.ListParams{Text: "cy_"}, []string{"cy_d"}},
		{`\ is a backslash`, audience.ListParams{Text: `m\e`}, []string{`team\eve`}},
		{"role", audience.ListParams{Role: "ops"}, []string{"ada", "cy_d", "cyxd"}},
		{"role is exact", audience.ListParams{Role: "Ops"}, []string{`team\eve`}},
		{"role nobody holds", audience.ListParams{Role: "board"}, []string{}},
		{"role and text", audience.ListParams{Role: "ops", Text: "cy"}, []string{"cy_d", "cyxd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, limit := range []int{1, 2, 100} {
				require.Equal(t, tt.want, tb.listIDs(t, tt.p, limit), "pages of %d", limit)
			}
		})
	}

	page, _, err := tb.audience.List(tb.ctx, audience.ListParams{Text: "ada"})
	require.NoError(t, err)
	got, err := tb.audience.Get(tb.ctx, "ada")
	require.NoError(t, err)
	require.Equal(t, []audience.User{got}, page, "users as Get reads them")

	for _, bad := range []string{"!!", "bm90IGEgY3Vyc29y\x00"} {
		_, _, err = tb.audience.List(tb.ctx, audience.ListParams{Cursor: bad})
		require.ErrorIs(t, err, audience.ErrBadCursor, bad)
	}
}

func TestListUsersPageSize(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	roles := map[string][]string{}
	for i := range audience.MaxListLimit + 5 {
		roles[fmt.Sprintf("u%03d", i)] = nil
	}
	tb.users(t, roles)
	page, next, err := tb.audience.List(tb.ctx, audience.ListParams{})
	require.NoError(t, err)
	require.Len(t, page, audience.DefaultListLimit)
	require.NotEmpty(t, next)
	page, next, err = tb.audience.List(tb.ctx, audience.ListParams{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, page, audience.MaxListLimit, "at most the largest page")
	require.NotEmpty(t, next)
}

// Roles counts each user once per role they hold, ordered by role, and
// leaves out roles nobody holds any longer.
func TestRoles(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	empty, err := tb.audience.Roles(tb.ctx)
	require.NoError(t, err)
	require.Empty(t, empty)

	tb.users(t, map[string][]string{
		"u1": {"ops", "dev", "ops"}, // deduplicated: one user of ops
		"u2": {"ops"},
		"u3": {"sales"},
		"u4": nil,
		"u5": {"board"},
	})
	_, err = tb.audience.Upsert(tb.ctx, by, audience.User{ID: "u5"}) // no longer on the board
	require.NoError(t, err)
	counts, err := tb.audience.Roles(tb.ctx)
	require.NoError(t, err)
	require.Equal(t, []audience.RoleCount{{Role: "dev", Users: 1}, {Role: "ops", Users: 2}, {Role: "sales", Users: 1}}, counts)
}

func TestRolesAreBounded(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := tb.pool.Exec(tb.ctx, `INSERT INTO users (id, roles) SELECT 'u' || i, ARRAY['r' || lpad(i::text, 4, '0')] FROM generate_series(1, $1) i`,
		audience.MaxRoleCounts+1)
	require.NoError(t, err)
	counts, err := tb.audience.Roles(tb.ctx)
	require.NoError(t, err)
	require.Len(t, counts, audience.MaxRoleCounts)
	require.Equal(t, audience.RoleCount{Role: "r0001", Users: 1}, counts[0])
	require.Equal(t, fmt.Sprintf("r%04d", audience.MaxRoleCounts), counts[len(counts)-1].Role, "the first ones by role")
}
