package series_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/series"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func ptr(t time.Time) *time.Time { return &t }

func TestCompileFillsDefaults(t *testing.T) {
	t.Parallel()
	c, errs := series.Recurrence{Cron: " 0 9 * * MON-FRI "}.Compile(now)
	require.Empty(t, errs)
	require.Equal(t, "0 9 * * MON-FRI", c.Cron)
	require.Equal(t, "UTC", c.TimeZone)
	require.Equal(t, time.UTC, c.Location)

	c, errs = series.Recurrence{Every: "6h", TimeZone: "Europe/Berlin"}.Compile(now)
	require.Empty(t, errs)
	require.Equal(t, 6*time.Hour, c.Interval)
	require.Equal(t, "Europe/Berlin", c.Location.String())
}

// Every refusal names its field and says what would be accepted.
func TestCompileRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		r     series.Recurrence
		field string
		says  string
	}{
		{"nothing", series.Recurrence{}, "recurrence", "needs a cron"},
		{"both", series.Recurrence{Cron: "* * * * *", Every: "1h"}, "recurrence", "not both"},
		{"six fields", series.Recurrence{Cron: "0 0 9 * * *"}, "recurrence.cron", "five-field cron expression"},
		{"garbage", series.Recurrence{Cron: "every monday"}, "recurrence.cron", "five-field cron expression"},
		{"zone inside", series.Recurrence{Cron: "TZ=Europe/Berlin 0 9 * * *"}, "recurrence.cron", "time_zone"},
		{"@every", series.Recurrence{Cron: "@every 1h"}, "recurrence.cron", `use "every"`},
		{"both days", series.Recurrence{Cron: "0 9 13 * FRI"}, "recurrence.cron", "restrict one of them"},
		{"bad zone", series.Recurrence{Cron: "0 9 * * *", TimeZone: "Mars/Olympus"}, "recurrence.time_zone", "IANA"},
		{"local zone", series.Recurrence{Cron: "0 9 * * *", TimeZone: "Local"}, "recurrence.time_zone", "IANA"},
		{"bad every", series.Recurrence{Every: "daily"}, "recurrence.every", "not a duration"},
		{"short every", series.Recurrence{Every: "30s"}, "recurrence.every", "at least 1m0s"},
		{"long every", series.Recurrence{Every: "9000h"}, "recurrence.every", "at most"},
		{"ended", series.Recurrence{Every: "1h", EndsAt: ptr(now.Add(-time.Hour))}, "recurrence.ends_at", "in the past"},
		{"ends first", series.Recurrence{Every: "1h", StartsAt: ptr(now.Add(2 * time.Hour)), EndsAt: ptr(now.Add(time.Hour))},
			"recurrence.ends_at", "after starts_at"},
		{"starts late", series.Recurrence{Every: "1h", StartsAt: ptr(now.Add(400 * 24 * time.Hour))}, "recurrence.starts_at", "a year"},
		{"negative count", series.Recurrence{Every: "1h", Count: -1}, "recurrence.count", "from 1 to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, errs := tc.r.Compile(now)
			require.Len(t, errs, 1, "%+v", errs)
			require.Equal(t, tc.field, errs[0].Field)
			require.Contains(t, errs[0].Message, tc.says)
		})
	}
}

func TestCompileReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	_, errs := series.Recurrence{Cron: "nope", TimeZone: "Nowhere", Count: -3}.Compile(now)
	fields := make([]string, len(errs))
	for i, e := range errs {
		fields[i] = e.Field
	}
	require.Equal(t, []string{"recurrence.cron", "recurrence.time_zone", "recurrence.count"}, fields)
}

func TestMatchesReadsWallClockTime(t *testing.T) {
	t.Parallel()
	c, errs := series.Recurrence{Cron: "30 9 * * MON-FRI", TimeZone: "Europe/Berlin"}.Compile(now)
	require.Empty(t, errs)
	require.True(t, c.Matches(time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)), "Monday 09:30")
	require.False(t, c.Matches(time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)), "Sunday")
	require.False(t, c.Matches(time.Date(2026, 12, 7, 9, 31, 0, 0, time.UTC)))
	every, _ := series.Recurrence{Every: "1h"}.Compile(now)
	require.False(t, every.Matches(time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)), "an interval has no wall-clock times")
}

func TestCountAndLimitsAreWrittenOnce(t *testing.T) {
	t.Parallel()
	require.Equal(t, broadcast.MaxScheduleAhead, series.MaxEvery)
	_, errs := series.Recurrence{Every: "1h", Count: series.MaxCount}.Compile(now)
	require.Empty(t, errs)
}
