package audience_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audience"
)

func TestUpsertAndGet(t *testing.T) {
	t.Parallel()
	tb := setup(t)

	created, err := tb.audience.Upsert(tb.ctx, by, audience.User{ID: " u1 ", Name: " Ada ", Roles: []string{"ops", " dev", "ops"}})
	require.NoError(t, err)
	require.Equal(t, "u1", created.ID)
	require.Equal(t, "Ada", created.Name)
	require.Equal(t, []string{"dev", "ops"}, created.Roles, "roles are trimmed, sorted and deduplicated")
	require.Equal(t, audience.SourceAdmin, created.Source)
	require.WithinDuration(t, time.Now(), created.CreatedAt, time.Minute)
	require.Equal(t, time.UTC, created.UpdatedAt.Location())

	got, err := tb.audience.Get(tb.ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, created, got)

	same, err := tb.audience.Upsert(tb.ctx, by, audience.User{ID: "u1", Name: "Ada", Roles: []string{"ops", "dev"}})
	require.NoError(t, err)
	require.Equal(t, created, same, "an unchanged entry is not rewritten")

	changed, err := tb.audience.Upsert(tb.ctx, by, audience.User{ID: "u1", Name: "Ada L."})
	require.NoError(t, err)
	require.Equal(t, []string{}, changed.Roles)
	require.Equal(t, created.CreatedAt, changed.CreatedAt)
	require.False(t, changed.UpdatedAt.Before(created.UpdatedAt))

	_, err = tb.audience.Get(tb.ctx, "nobody")
	require.ErrorIs(t, err, audience.ErrNotFound)
}

func TestUpsertRefusesInvalidUsers(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	t.Cleanup(func() { require.Zero(t, tb.count(t, `SELECT count(*) FROM users`), "nothing is stored") })
	tooMany := make([]string, audience.MaxRoles+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("r", i)
	}
	tests := []struct {
		name  string
		user  audience.User
		field string
	}{
		{"empty id", audience.User{ID: "  "}, "id"},
		{"long id", audience.User{ID: strings.Repeat("x", audience.MaxUserIDChars+1)}, "id"},
		{"long name", audience.User{ID: "u", Name: strings.Repeat("x", audience.MaxNameChars+1)}, "name"},
		{"NUL in name", audience.User{ID: "u", Name: "a\x00b"}, "name"},
		{"empty role", audience.User{ID: "u", Roles: []string{"ops", " "}}, "roles[1]"},
		{"long role", audience.User{ID: "u", Roles: []string{strings.Repeat("x", audience.MaxRoleChars+1)}}, "roles[0]"},
		{"too many roles", audience.User{ID: "u", Roles: tooMany}, "roles"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tb.audience.Upsert(tb.ctx, by, tt.user)
			var v *audience.ValidationError
			require.ErrorAs(t, err, &v)
			require.Equal(t, tt.field, v.Errors[0].Field)
		})
	}
}

func TestImport(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	const n = 10_000
	users := make([]audience.User, 0, n)
	for i := range n {
		users = append(users, audience.User{ID: fmt.Sprintf("user-%05d", i), Name: fmt.Sprintf("User %d", i), Roles: []string{"staff", fmt.Sprint("team-", i%10)}})
	}
	_, err := tb.audience.Upsert(tb.ctx, by, audience.User{ID: "user-00000", Name: "Before", Roles: []string{"old"}})
	require.NoError(t, err)
	require.NoError(t, tb.audience.Learn(tb.ctx, "user-00001", "Learned", []string{"old"}, ""))

	queries := tb.queries.count()
	started := time.Now()
	imported, err := tb.audience.Import(tb.ctx, by, users)
	elapsed := time.Since(started)
	require.NoError(t, err)
	t.Logf("imported %d users in %s (%d statements)", imported, elapsed, tb.queries.count()-queries)

	require.Equal(t, n, imported)
	require.Equal(t, n, tb.count(t, `SELECT count(*) FROM users`))
	require.Equal(t, n, tb.count(t, `SELECT count(*) FROM users WHERE source = 'admin'`), "imported entries are an admin's")
	got, err := tb.audience.Get(tb.ctx, "user-00001")
	require.NoError(t, err)
	require.Equal(t, "User 1", got.Name)
	require.Equal(t, []string{"staff", "team-1"}, got.Roles)
	require.Equal(t, audience.SourceAdmin, got.Source)
	team, err := tb.audience.CountAudience(tb.ctx, roles("team-3"))
	require.NoError(t, err)
	require.Equal(t, int64(1000), team)

	// Again, with one change and an id given twice: the last entry wins, and
	// only what changed is written.
	var firstDone time.Time
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT max(updated_at) FROM users`).Scan(&firstDone))
	users[5].Roles = []string{"moved"}
	again, err := tb.audience.Import(tb.ctx, by, append(users, audience.User{ID: "user-00007", Name: "Seven"}))
	require.NoError(t, err)
	require.Equal(t, n, again)
	got, err = tb.audience.Get(tb.ctx, "user-00005")
	require.NoError(t, err)
	require.Equal(t, []string{"moved"}, got.Roles)
	got, err = tb.audience.Get(tb.ctx, "user-00007")
	require.NoError(t, err)
	require.Equal(t, "Seven", got.Name)
	require.Equal(t, []string{}, got.Roles)
	require.Equal(t, 2, tb.count(t, `SELECT count(*) FROM users WHERE updated_at > $1`, firstDone))
}

func TestImportIsAllOrNothing(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := tb.audience.Import(tb.ctx, by, []audience.User{{ID: "ok"}, {ID: ""}, {ID: "ok2"}, {ID: "x", Roles: []string{""}}})
	var v *audience.ValidationError
	require.ErrorAs(t, err, &v)
	require.Equal(t, []string{"[1].id", "[3].roles[0]"}, []string{v.Errors[0].Field, v.Errors[1].Field})
	require.Zero(t, tb.count(t, `SELECT count(*) FROM users`))

	imported, err := tb.audience.Import(tb.ctx, by, nil)
	require.NoError(t, err)
	require.Zero(t, imported)
}

func TestLearn(t *testing.T) {
	t.Parallel()
	tb := setup(t)

	require.NoError(t, tb.audience.Learn(tb.ctx, "bob", "Bob", []string{"ops", "dev"}, ""))
	learned, err := tb.audience.Get(tb.ctx, "bob")
	require.NoError(t, err)
	require.Equal(t, audience.SourceToken, learned.Source)
	require.Equal(t, []string{"dev", "ops"}, learned.Roles)

	before := tb.queries.count()
	for range 100 {
		require.NoError(t, tb.audience.Learn(tb.ctx, "bob", "Bob", []string{"dev", "ops", "dev"}, ""))
	}
	require.Equal(t, before, tb.queries.count(), "a known, unchanged user costs no SQL")

	require.NoError(t, tb.audience.Learn(tb.ctx, "bob", "Bob", []string{"ops"}, ""))
	require.Equal(t, before+1, tb.queries.count())
	changed, err := tb.audience.Get(tb.ctx, "bob")
	require.NoError(t, err)
	require.Equal(t, []string{"ops"}, changed.Roles, "a learned entry follows its token")

	require.Error(t, tb.audience.Learn(tb.ctx, " ", "", nil, ""))
}

func TestLearnNeverOverridesAnAdmin(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	set, err := tb.audience.Upsert(tb.ctx, by, audience.User{ID: "carol", Name: "Carol (HR)", Roles: []string{"hr"}})
	require.NoError(t, err)

	require.NoError(t, tb.audience.Learn(tb.ctx, "carol", "carol", []string{"intern"}, ""))
	got, err := tb.audience.Get(tb.ctx, "carol")
	require.NoError(t, err)
	require.Equal(t, set, got, "the admin's entry, updated_at included, is untouched")

	before := tb.queries.count()
	require.NoError(t, tb.audience.Learn(tb.ctx, "carol", "carol", []string{"intern"}, ""))
	require.Equal(t, before, tb.queries.count(), "the outcome is remembered too")

	// A learned user an admin then sets is the admin's from then on.
	require.NoError(t, tb.audience.Learn(tb.ctx, "dave", "Dave", []string{"dev"}, ""))
	_, err = tb.audience.Upsert(tb.ctx, by, audience.User{ID: "dave", Name: "Dave", Roles: []string{"lead"}})
	require.NoError(t, err)
	require.NoError(t, tb.audience.Learn(tb.ctx, "dave", "Dave", []string{"dev", "new"}, ""))
	got, err = tb.audience.Get(tb.ctx, "dave")
	require.NoError(t, err)
	require.Equal(t, []string{"lead"}, got.Roles)
	require.Equal(t, audience.SourceAdmin, got.Source)
}

func TestLearnCacheIsBounded(t *testing.T) {
	t.Parallel()
	tb := setupWith(t, audience.Config{CacheSize: 2})
	for _, id := range []string{"a", "b", "c"} {
		require.NoError(t, tb.audience.Learn(tb.ctx, id, id, nil, ""))
	}
	before := tb.queries.count()
	require.NoError(t, tb.audience.Learn(tb.ctx, "c", "c", nil, ""))
	require.Equal(t, before, tb.queries.count(), "c is remembered")
	require.NoError(t, tb.audience.Learn(tb.ctx, "a", "a", nil, ""))
	require.Equal(t, before+1, tb.queries.count(), "a was evicted to stay within two entries")
}

// A user's time zone is set by an admin or an import, or learned from the
// token's zoneinfo for a user learned from tokens; an admin's wins.
func TestUserTimeZones(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	set, err := tb.audience.Upsert(tb.ctx, by, audience.User{ID: "tz-ada", Name: "Ada", TimeZone: " Europe/Berlin "})
	require.NoError(t, err)
	require.Equal(t, "Europe/Berlin", set.TimeZone)
	_, err = tb.audience.Upsert(tb.ctx, by, audience.User{ID: "tz-ada", Name: "Ada", TimeZone: "Berlin"})
	var v *audience.ValidationError
	require.ErrorAs(t, err, &v)
	require.Equal(t, "time_zone", v.Errors[0].Field)

	n, err := tb.audience.Import(tb.ctx, by, []audience.User{{ID: "tz-bo", TimeZone: "Asia/Tokyo"}, {ID: "tz-cy"}})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	bo, err := tb.audience.Get(tb.ctx, "tz-bo")
	require.NoError(t, err)
	require.Equal(t, "Asia/Tokyo", bo.TimeZone)
	_, err = tb.audience.Import(tb.ctx, by, []audience.User{{ID: "tz-dee", TimeZone: "Mars/Base"}})
	require.ErrorAs(t, err, &v)
	require.Equal(t, "[0].time_zone", v.Errors[0].Field)

	require.NoError(t, tb.audience.Learn(tb.ctx, "tz-eve", "Eve", nil, "America/New_York"))
	eve, err := tb.audience.Get(tb.ctx, "tz-eve")
	require.NoError(t, err)
	require.Equal(t, "America/New_York", eve.TimeZone, "learned from the token's zoneinfo")
	require.NoError(t, tb.audience.Learn(tb.ctx, "tz-eve", "Eve", nil, "not a zone"))
	eve, err = tb.audience.Get(tb.ctx, "tz-eve")
	require.NoError(t, err)
	require.Empty(t, eve.TimeZone, "a zoneinfo that is no IANA zone is left out")
	require.NoError(t, tb.audience.Learn(tb.ctx, "tz-ada", "Ada", nil, "Asia/Tokyo"))
	ada, err := tb.audience.Get(tb.ctx, "tz-ada")
	require.NoError(t, err)
	require.Equal(t, "Europe/Berlin", ada.TimeZone, "an admin's entry wins")
}
