package broadcast_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/crier/crier/internal/broadcast"
)

// fuzzNow is the clock of the fuzz targets, so every run judges alike.
var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// fuzzTime turns a fuzzed offset (nanoseconds from fuzzNow) into a time in a
// fuzzed zone, or nil when absent.
func fuzzTime(present bool, offset int64, zoneMinutes int16) *time.Time {
	if !present {
		return nil
	}
	at := fuzzNow.Add(time.Duration(offset)).In(time.FixedZone("fuzz", int(zoneMinutes)%(24*60)*60))
	return &at
}

// fuzzIDs splits ids at commas and appends extra generated ids, so the
// target can reach the 10,000-id limit.
func fuzzIDs(ids string, extra uint16) []string {
	var out []string
	if ids != "" {
		out = strings.Split(ids, ",")
	}
	for i := range int(extra) % (broadcast.MaxTargetIDs + 16) {
		out = append(out, "user-"+strconv.Itoa(i))
	}
	return out
}

// FuzzSpecNormalize checks that Spec.Normalize never panics and that
// whatever it accepts meets every limit the rest of Crier relies on.
func FuzzSpecNormalize(f *testing.F) {
	f.Fuzz(func(t *testing.T, title, content, category, priority, targetType, ids string, extraIDs uint16,
		hasScheduled bool, scheduled int64, hasExpires bool, expires int64, zone int16, draft bool) {
		in := broadcast.Spec{
			Title: title, Content: content, Category: category, Priority: broadcast.Priority(priority),
			Target:      broadcast.Target{Type: broadcast.TargetType(targetType), IDs: fuzzIDs(ids, extraIDs)},
			ScheduledAt: fuzzTime(hasScheduled, scheduled, zone), ExpiresAt: fuzzTime(hasExpires, expires, zone),
		}
		givenIDs := slices.Clone(in.Target.IDs)
		rules := broadcast.Rules{Now: fuzzNow}
		s := in
		err := s.Normalize(rules, draft)
		if err != nil {
			requireValidationError(t, err)
			return
		}
		requireSpecInvariants(t, in, givenIDs, s, draft)

		again := s
		again.Target.IDs = slices.Clone(s.Target.IDs)
		if err := again.Normalize(rules, draft); err != nil {
			t.Fatalf("a normalized spec is refused when normalized again: %v\n%+v", err, s)
		}
		if !sameSpec(again, s) {
			t.Fatalf("normalizing twice changed the spec:\n once: %+v\ntwice: %+v", s, again)
		}
	})
}

func requireSpecInvariants(t *testing.T, in broadcast.Spec, givenIDs []string, s broadcast.Spec, draft bool) {
	t.Helper()
	switch n := utf8.RuneCountInString(s.Title); {
	case s.Title != strings.TrimSpace(in.Title):
		t.Fatalf("title %q is not the given title %q trimmed", s.Title, in.Title)
	case n == 0 || n > broadcast.MaxTitleChars:
		t.Fatalf("title %q has %d characters", s.Title, n)
	}
	switch {
	case s.Content != in.Content:
		t.Fatalf("content changed: %q became %q", in.Content, s.Content)
	case strings.TrimSpace(s.Content) == "":
		t.Fatalf("blank content %q accepted", s.Content)
	case len(s.Content) > broadcast.MaxContentBytes:
		t.Fatalf("content of %d bytes accepted", len(s.Content))
	case !utf8.ValidString(s.Content):
		t.Fatalf("content %q is not valid UTF-8", s.Content)
	}
	wantCategory := strings.TrimSpace(in.Category)
	if wantCategory == "" {
		wantCategory = "general"
	}
	if s.Category != wantCategory || utf8.RuneCountInString(s.Category) > broadcast.MaxCategoryChars {
		t.Fatalf("category %q from %q", s.Category, in.Category)
	}
	if !slices.Contains(broadcast.Priorities, s.Priority) || (in.Priority != "" && s.Priority != in.Priority) {
		t.Fatalf("priority %q from %q", s.Priority, in.Priority)
	}
	requireTarget(t, givenIDs, s.Target)
	requireTimes(t, in, s, draft)
}

func requireTarget(t *testing.T, givenIDs []string, target broadcast.Target) {
	t.Helper()
	if !slices.Contains(broadcast.TargetTypes, target.Type) {
		t.Fatalf("target type %q accepted", target.Type)
	}
	if target.Type == broadcast.TargetAll {
		if target.IDs == nil || len(target.IDs) != 0 {
			t.Fatalf("target ALL has ids %q", target.IDs)
		}
		return
	}
	if len(target.IDs) == 0 || len(target.IDs) > broadcast.MaxTargetIDs {
		t.Fatalf("target %s has %d ids", target.Type, len(target.IDs))
	}
	// The ids are the given ones trimmed, first occurrences in order.
	var want []string
	seen := map[string]bool{}
	for _, id := range givenIDs {
		if id = strings.TrimSpace(id); !seen[id] {
			seen[id] = true
			want = append(want, id)
		}
	}
	if !slices.Equal(want, target.IDs) {
		t.Fatalf("target ids %q from %q", target.IDs, givenIDs)
	}
	for _, id := range target.IDs {
		if id == "" || id != strings.TrimSpace(id) || utf8.RuneCountInString(id) > broadcast.MaxTargetIDChars {
			t.Fatalf("target id %q accepted", id)
		}
	}
}

func requireTimes(t *testing.T, in, s broadcast.Spec, draft bool) {
	t.Helper()
	if !draft && (s.ScheduledAt == nil || s.ExpiresAt == nil) {
		t.Fatalf("a broadcast that is not a draft lacks a time: %v, %v", s.ScheduledAt, s.ExpiresAt)
	}
	if (in.ScheduledAt != nil && s.ScheduledAt == nil) || (in.ExpiresAt != nil && s.ExpiresAt == nil) {
		t.Fatal("a given time was dropped")
	}
	if at := s.ScheduledAt; at != nil {
		if at.Location() != time.UTC || at.Before(fuzzNow) || at.After(fuzzNow.Add(broadcast.MaxScheduleAhead)) {
			t.Fatalf("scheduled_at %v accepted at %v", at, fuzzNow)
		}
		// Times are kept at the database's precision (broadcast.Precision).
		if in.ScheduledAt != nil && !at.Equal(in.ScheduledAt.Truncate(broadcast.Precision)) && !at.Equal(fuzzNow) {
			t.Fatalf("scheduled_at %v moved to %v", in.ScheduledAt, at)
		}
	}
	if at := s.ExpiresAt; at != nil {
		if at.Location() != time.UTC || !at.After(fuzzNow) || (s.ScheduledAt != nil && !at.After(*s.ScheduledAt)) ||
			!at.Equal(at.Truncate(broadcast.Precision)) {
			t.Fatalf("expires_at %v accepted with scheduled_at %v at %v", at, s.ScheduledAt, fuzzNow)
		}
	}
}

func sameSpec(a, b broadcast.Spec) bool {
	sameTime := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.Title == b.Title && a.Content == b.Content && a.Category == b.Category && a.Priority == b.Priority &&
		a.Target.Type == b.Target.Type && slices.Equal(a.Target.IDs, b.Target.IDs) &&
		sameTime(a.ScheduledAt, b.ScheduledAt) && sameTime(a.ExpiresAt, b.ExpiresAt)
}

// FuzzChangeNormalize checks that Change.Normalize never panics and that a
// change it accepts leaves the broadcast with a valid schedule.
func FuzzChangeNormalize(f *testing.F) {
	f.Fuzz(func(t *testing.T, status uint8, curScheduled, curExpires uint8, hasScheduled bool, scheduled int64,
		hasExpires bool, expires int64, zone int16) {
		current := broadcast.Broadcast{Status: broadcast.Statuses[int(status)%len(broadcast.Statuses)]}
		// The current times: absent, an hour ahead, a day ahead, an hour ago, a month ahead.
		offsets := []time.Duration{0, time.Hour, 24 * time.Hour, -time.Hour, 30 * 24 * time.Hour}
		if o := offsets[int(curScheduled)%len(offsets)]; o != 0 {
			current.ScheduledAt = fuzzTime(true, int64(o), 0)
		}
		if o := offsets[int(curExpires)%len(offsets)]; o != 0 {
			current.ExpiresAt = fuzzTime(true, int64(o), 0)
		}
		in := broadcast.Change{ScheduledAt: fuzzTime(hasScheduled, scheduled, zone), ExpiresAt: fuzzTime(hasExpires, expires, zone)}
		rules := broadcast.Rules{Now: fuzzNow}
		c := in
		err := c.Normalize(rules, current)
		switch {
		case errors.Is(err, broadcast.ErrScheduledInPast):
			if c.ScheduledAt == nil || !c.ScheduledAt.Before(fuzzNow) {
				t.Fatalf("ErrScheduledInPast for scheduled_at %v at %v", c.ScheduledAt, fuzzNow)
			}
			return
		case err != nil:
			requireValidationError(t, err)
			return
		}
		if c.ScheduledAt == nil && c.ExpiresAt == nil {
			t.Fatal("an empty change was accepted")
		}
		if (in.ScheduledAt == nil) != (c.ScheduledAt == nil) || (in.ExpiresAt == nil) != (c.ExpiresAt == nil) {
			t.Fatalf("the change's times changed presence: %+v became %+v", in, c)
		}
		scheduledAt, expiresAt := current.ScheduledAt, current.ExpiresAt
		if at := c.ScheduledAt; at != nil {
			if at.Location() != time.UTC || at.Before(fuzzNow) || at.After(fuzzNow.Add(broadcast.MaxScheduleAhead)) {
				t.Fatalf("scheduled_at %v accepted at %v", at, fuzzNow)
			}
			scheduledAt = at
		}
		if at := c.ExpiresAt; at != nil {
			if at.Location() != time.UTC || !at.After(fuzzNow) {
				t.Fatalf("expires_at %v accepted at %v", at, fuzzNow)
			}
			expiresAt = at
		}
		if scheduledAt != nil && expiresAt != nil && !expiresAt.After(*scheduledAt) {
			t.Fatalf("the change leaves expires_at %v not after scheduled_at %v", expiresAt, scheduledAt)
		}
		again := c
		if err := again.Normalize(rules, current); err != nil {
			t.Fatalf("a normalized change is refused when normalized again: %v", err)
		}
	})
}

// requireValidationError checks a refusal: a *ValidationError naming at
// least one field, each with a message.
func requireValidationError(t *testing.T, err error) {
	t.Helper()
	var v *broadcast.ValidationError
	if !errors.As(err, &v) || len(v.Errors) == 0 {
		t.Fatalf("refused with %T %v, want a *ValidationError with reasons", err, err)
	}
	for _, fe := range v.Errors {
		if fe.Field == "" || fe.Message == "" {
			t.Fatalf("a reason lacks its field or message: %+v", fe)
		}
	}
}
