package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/series"
	"github.com/crier/crier/internal/store"
)

// insertLike stores a broadcast like insert's (scheduled, alice's, category
// ops, HIGH), changed by change.
func (tb *testBundle) insertLike(t *testing.T, change func(*broadcast.Broadcast)) broadcast.Broadcast {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	b := scheduled(id, time.Now().Add(time.Hour).UTC())
	b.Sender, b.Title, b.Content = broadcast.Sender{ID: "alice", Name: "Alice"}, "Maintenance", "Tonight at 22:00"
	b.Category, b.Priority = "ops", broadcast.PriorityHigh
	change(&b)
	stored, created, err := tb.store.Insert(tb.ctx, by, b, []byte("hash"), nil)
	require.NoError(t, err)
	require.True(t, created)
	return stored
}

// listAll pages through List with p in pages of limit and returns the ids
// seen, in order.
func (tb *testBundle) listAll(t *testing.T, p store.ListParams, limit int) []uuid.UUID {
	t.Helper()
	p.Limit = limit
	seen := []uuid.UUID{}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 50, "paging does not end")
		page, next, err := tb.store.List(tb.ctx, p)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), limit)
		for _, b := range page {
			seen = append(seen, b.ID)
		}
		if next == "" {
			return seen
		}
		p.Cursor = next
	}
}

// Every filter of List keeps only what it names, the filters combine with
// AND, and search text is matched as written: its %, _ and \ are not
// wildcards.
func TestListFilters(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	maintenance := tb.insertLike(t, func(*broadcast.Broadcast) {})
	invoice := tb.insertLike(t, func(b *broadcast.Broadcast) {
		b.Sender, b.Category, b.Priority = broadcast.Sender{ID: "bob", Name: "Bob"}, "billing", broadcast.PriorityLow
		b.Title, b.Content = "Invoices", "Paid 100% on time"
	})
	disk := tb.insertLike(t, func(b *broadcast.Broadcast) {
		b.Category, b.Priority = "Ops", broadcast.PriorityUrgent // another category: matching is exact
		b.Title, b.Content = "DISK 100 PERCENT FULL", `see C:\logs and file_a`
	})
	fileB := tb.insertLike(t, func(b *broadcast.Broadcast) {
		b.Priority, b.Title, b.Content = broadcast.PriorityLow, "Note", "see C:/logs and fileXa"
	})
	sr := tb.newSeries(t, series.Recurrence{Every: "1h"})
	made, err := tb.store.MakeOccurrence(tb.ctx, store.OccurrenceRequest{SeriesID: sr.ID, Key: "k1", Due: time.Now().Add(time.Minute).UTC()},
		func(context.Context, broadcast.Broadcast) error { return nil })
	require.NoError(t, err)
	occurrence := made.Broadcast // "Stand-up", category team, NORMAL, alice's
	other := uuid.New()

	tests := []struct {
		name string
		p    store.ListParams
		want []uuid.UUID
	}{
		{"no filter", store.ListParams{}, []uuid.UUID{occurrence.ID, fileB.ID, disk.ID, invoice.ID, maintenance.ID}},
		{"category, exact and case-sensitive", store.ListParams{Categories: []string{"ops"}}, []uuid.UUID{fileB.ID, maintenance.ID}},
		{"categories", store.ListParams{Categories: []string{"Ops", "billing"}}, []uuid.UUID{disk.ID, invoice.ID}},
		{"category nobody uses", store.ListParams{Categories: []string{"op"}}, []uuid.UUID{}},
		{"priority", store.ListParams{Priorities: []broadcast.Priority{broadcast.PriorityLow}}, []uuid.UUID{fileB.ID, invoice.ID}},
		{"priorities", store.ListParams{Priorities: []broadcast.Priority{broadcast.PriorityUrgent, broadcast.PriorityNormal}},
			[]uuid.UUID{occurrence.ID, disk.ID}},
		{"sender", store.ListParams{SenderID: "bob"}, []uuid.UUID{invoice.ID}},
		{"series", store.ListParams{SeriesID: &sr.ID}, []uuid.UUID{occurrence.ID}},
		{"series without occurrences", store.ListParams{SeriesID: &other}, []uuid.UUID{}},
		{"text in the title, any case", store.ListParams{Text: "maintENANCE"}, []uuid.UUID{maintenance.ID}},
		{"text in the content", store.ListParams{Text: "on time"}, []uuid.UUID{invoice.ID}},
		{"text in title or content", store.ListParams{Text: "100"}, []uuid.UUID{disk.ID, invoice.ID}},
		{"% is a percent sign, not any run", store.ListParams{Text: "100%"}, []uuid.UUID{invoice.ID}},
		{"% alone", store.ListParams{Text: "%"}, []uuid.UUID{invoice.ID}},
		{"_ is an underscore, not any one", store.ListParams{Text: "file_a"}, []uuid.UUID{disk.ID}},
		{`\ is a backslash, not an escape`, store.ListParams{Text: `C:\logs`}, []uuid.UUID{disk.ID}},
		{"text nobody wrote", store.ListParams{Text: "zebra"}, []uuid.UUID{}},
		{"filters combine with AND", store.ListParams{Categories: []string{"ops", "billing"}, Priorities: []broadcast.Priority{broadcast.PriorityLow},
			SenderID: "alice", Text: "logs"}, []uuid.UUID{fileB.ID}},
		{"AND with status", store.ListParams{Statuses: []broadcast.Status{broadcast.StatusSent}, Categories: []string{"ops"}}, []uuid.UUID{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tb.listAll(t, tt.p, 100))
		})
	}
}

// A filtered list pages by the same cursor as the whole one: every match
// once, newest first, nothing else, whatever lies between the matches.
func TestListFiltersPage(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	var matches []uuid.UUID
	for i := range 7 {
		tb.insertLike(t, func(b *broadcast.Broadcast) { b.Category = "noise" })
		if i%2 == 0 {
			tb.insertLike(t, func(b *broadcast.Broadcast) { b.Title = "Release notes" })
		}
		b := tb.insertLike(t, func(b *broadcast.Broadcast) { b.Priority, b.Title = broadcast.PriorityUrgent, "Release today" })
		matches = append([]uuid.UUID{b.ID}, matches...) // newest first
	}
	p := store.ListParams{Categories: []string{"ops"}, Priorities: []broadcast.Priority{broadcast.PriorityUrgent}, Text: "release"}
	for _, limit := range []int{1, 2, 3, 7, 100} {
		require.Equal(t, matches, tb.listAll(t, p, limit), "pages of %d", limit)
	}
}
