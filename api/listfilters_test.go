package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
)

// GET /broadcasts filters by category, priority, sender, series and text,
// with AND, in SQL; search text is matched as written.
func TestListFilters(t *testing.T) {
	t.Parallel()
	sb := setupSeries(t)
	tb := sb.testBundle
	bea := withToken(issue(t, tb.secret, "bea", "Bea", []string{api.RoleBroadcaster}, time.Hour, time.Now()))
	maintenance := tb.create(t, createBody(t, map[string]any{"category": "ops", "priority": "HIGH", "title": "Maintenance",
		"content": "Logs in fileXa"}))
	invoice := tb.create(t, createBody(t, map[string]any{"category": "billing", "priority": "LOW", "title": "Invoices",
		"content": "Paid 100% on time"}), bea)
	disk := tb.create(t, createBody(t, map[string]any{"category": "Ops", "priority": "URGENT", "title": "Disk 100 percent full",
		"content": "see file_a"}))
	sr := requireSeries(t, sb.do(t, http.MethodPost, "/api/v1/series", weekdaySeries), http.StatusCreated)
	made, err := tb.store.MakeOccurrence(context.Background(), store.OccurrenceRequest{SeriesID: sr.ID, Key: "k1", Due: tb.now.Add(time.Minute)},
		func(context.Context, broadcast.Broadcast) error { return nil })
	require.NoError(t, err)
	occurrence := made.Broadcast // "Stand-up", general, NORMAL, admin-1's

	q := func(text string) string { return "?q=" + url.QueryEscape(text) }
	tests := []struct {
		name, query string
		want        []uuid.UUID
	}{
		{"category", "?category=ops", []uuid.UUID{maintenance.ID}},
		{"categories, comma-separated and repeated", "?category=billing,%20Ops&category=general", []uuid.UUID{occurrence.ID, disk.ID, invoice.ID}},
		{"priority in any case", "?priority=low", []uuid.UUID{invoice.ID}},
		{"priorities", "?priority=URGENT,normal", []uuid.UUID{occurrence.ID, disk.ID}},
		{"sender", "?sender=bea", []uuid.UUID{invoice.ID}},
		{"series", "?series_id=" + sr.ID.String(), []uuid.UUID{occurrence.ID}},
		{"series without occurrences", "?series_id=" + uuid.NewString(), []uuid.UUID{}},
		{"text in the title, any case", q("MAINTENANCE"), []uuid.UUID{maintenance.ID}},
		{"text in title or content", q("100"), []uuid.UUID{disk.ID, invoice.ID}},
		{"q=100% is a percent sign, not a wildcard", q("100%"), []uuid.UUID{invoice.ID}},
		{"_ is an underscore, not a wildcard", q("file_a"), []uuid.UUID{disk.ID}}, // not maintenance's fileXa
		{"empty filters are none", "?q=&category=&priority=&sender=&series_id=", []uuid.UUID{occurrence.ID, disk.ID, invoice.ID, maintenance.ID}},
		{"filters combine with AND", "?category=ops,Ops,billing&priority=HIGH,URGENT&q=" + url.QueryEscape("disk"), []uuid.UUID{disk.ID}},
		{"with status", "?status=DRAFT&category=ops", []uuid.UUID{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page := tb.list(t, tt.query)
			require.Equal(t, tt.want, ids(page.Items))
			require.Empty(t, page.NextCursor)
		})
	}

	t.Run("paged", func(t *testing.T) {
		t.Parallel()
		first := tb.list(t, "?category=ops,Ops&limit=1")
		require.Equal(t, []uuid.UUID{disk.ID}, ids(first.Items))
		second := tb.list(t, "?category=ops,Ops&limit=1&cursor="+first.NextCursor)
		require.Equal(t, []uuid.UUID{maintenance.ID}, ids(second.Items))
		require.Empty(t, second.NextCursor)
	})

	t.Run("a broadcaster's own only", func(t *testing.T) {
		t.Parallel()
		for query, want := range map[string][]uuid.UUID{
			"":                          {invoice.ID},
			"?sender=bea":               {invoice.ID},
			"?sender=admin-1":           {}, // another sender's: none, not an error
			"?sender=admin-1&q=Invoice": {},
			"?category=ops":             {}, // the admin's ops broadcast is not theirs
			"?priority=LOW&q=paid":      {invoice.ID},
		} {
			page := decode[listPage](t, tb.do(t, http.MethodGet, "/api/v1/broadcasts"+query, "", bea), http.StatusOK)
			require.Equal(t, want, ids(page.Items), query)
		}
	})
}

func TestListFilterRefusals(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.create(t, createBody(t, nil))
	tests := []struct {
		name, query, detail string
	}{
		{"unknown priority", "?priority=SOON", `priority "SOON" is not one of [LOW NORMAL HIGH URGENT]`},
		{"one bad priority among good ones", "?priority=LOW,HIHG", `"HIHG"`},
		{"category too long", "?category=" + strings.Repeat("c", broadcast.MaxCategoryChars+1), "category \"ccc"},
		{"category too long, in characters", "?category=" + url.QueryEscape(strings.Repeat("é", broadcast.MaxCategoryChars+1)), "must be at most 64 characters, got 65"},
		{"category with NUL", "?category=a%00b", "must be valid UTF-8 without NUL"},
		{"category not UTF-8", "?category=ops,%FF", "must be valid UTF-8 without NUL"},
		{"series_id not a UUID", "?series_id=nope", `series_id "nope" is not a series id`},
		{"q too long", "?q=" + strings.Repeat("q", 201), "q must be at most 200 bytes, got 201"},
		{"q too long in bytes", "?q=" + url.QueryEscape(strings.Repeat("é", 101)), "q must be at most 200 bytes, got 202"},
		{"q with NUL", "?q=a%00", "q must be valid UTF-8"},
		{"sender not UTF-8", "?sender=%FF", "sender must be valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requireProblem(t, tb.do(t, http.MethodGet, "/api/v1/broadcasts"+tt.query, ""), http.StatusBadRequest, tt.detail)
		})
	}
	page := tb.list(t, "?q="+url.QueryEscape(strings.Repeat("é", 100))+"&category="+url.QueryEscape(strings.Repeat("é", broadcast.MaxCategoryChars)))
	require.Empty(t, page.Items, "200 bytes of q and 64 characters of category are taken")
}
