package series_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/crier/crier/internal/series"
	"github.com/crier/crier/internal/testenv"
)

// dstDays are the days the clocks change in 2027 in two zones, with a daily
// cron whose time is skipped or repeated that day and the instant Crier
// documents for it (README, "Series"): a skipped time fires as far after it
// as the clocks jump, a repeated one the second time.
var dstDays = []struct {
	zone, day, cron string
	want            time.Time
	why             string
}{
	{"America/New_York", "2027-03-14", "30 2 * * *", time.Date(2027, 3, 14, 7, 30, 0, 0, time.UTC), "02:30 is skipped: 03:30 EDT"},
	{"America/New_York", "2027-03-14", "30 1 * * *", time.Date(2027, 3, 14, 6, 30, 0, 0, time.UTC), "01:30 EST, before the change"},
	{"America/New_York", "2027-03-14", "0 9 * * *", time.Date(2027, 3, 14, 13, 0, 0, 0, time.UTC), "09:00 EDT"},
	{"America/New_York", "2027-11-07", "30 1 * * *", time.Date(2027, 11, 7, 6, 30, 0, 0, time.UTC), "01:30 occurs twice: the second, EST"},
	{"America/New_York", "2027-11-07", "30 2 * * *", time.Date(2027, 11, 7, 7, 30, 0, 0, time.UTC), "02:30 EST, after the change"},
	{"America/New_York", "2027-11-07", "0 9 * * *", time.Date(2027, 11, 7, 14, 0, 0, 0, time.UTC), "09:00 EST"},
	{"Europe/Berlin", "2027-03-28", "30 2 * * *", time.Date(2027, 3, 28, 1, 30, 0, 0, time.UTC), "02:30 is skipped: 03:30 CEST"},
	{"Europe/Berlin", "2027-03-28", "0 9 * * *", time.Date(2027, 3, 28, 7, 0, 0, 0, time.UTC), "09:00 CEST"},
	{"Europe/Berlin", "2027-10-31", "30 2 * * *", time.Date(2027, 10, 31, 1, 30, 0, 0, time.UTC), "02:30 occurs twice: the second, CET"},
	{"Europe/Berlin", "2027-10-31", "0 9 * * *", time.Date(2027, 10, 31, 8, 0, 0, 0, time.UTC), "09:00 CET"},
}

// specNow is when the specs are computed: before the 2027 changes.
var specNow = time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC)

// The spec computation alone: the skipped times get an instant of their
// own, the others none.
func TestSkippedTimesOnTheDaysTheClocksChange(t *testing.T) {
	t.Parallel()
	for _, tc := range dstDays {
		c, errs := series.Recurrence{Cron: tc.cron, TimeZone: tc.zone}.Compile(specNow)
		require.Empty(t, errs)
		day := localDay(t, tc.zone, tc.day)
		skipped := c.SkippedTimes(day.Add(-24*time.Hour), day.Add(48*time.Hour))
		if tc.cron == "30 2 * * *" && tc.day[5:7] == "03" {
			require.Equal(t, []time.Time{tc.want}, skipped, "%s %s: %s", tc.zone, tc.day, tc.why)
		} else {
			require.Empty(t, skipped, "%s %s %s: nothing is skipped", tc.zone, tc.day, tc.cron)
		}
	}
	// "*/15 2 * * *" on the spring day: 02:00..02:45 are skipped and fire at
	// 03:00..03:45, which the expression does not match otherwise.
	c, _ := series.Recurrence{Cron: "*/15 2 * * *", TimeZone: "Europe/Berlin"}.Compile(specNow)
	day := localDay(t, "Europe/Berlin", "2027-03-28")
	require.Len(t, c.SkippedTimes(day, day.Add(24*time.Hour)), 4)
	// "*/15 * * * *": the skipped times' instants are matched anyway.
	c, _ = series.Recurrence{Cron: "*/15 * * * *", TimeZone: "Europe/Berlin"}.Compile(specNow)
	require.Empty(t, c.SkippedTimes(day, day.Add(24*time.Hour)))
}

// The schedule Temporal runs: the times the real server says the spec
// matches, made into occurrences as the schedule's actions are, give
// exactly one occurrence on each local day around each change, at the
// documented instant.
func TestOneOccurrencePerLocalDayOnTheTemporalServer(t *testing.T) {
	t.Parallel()
	address := testenv.TemporalAddress(t)
	c, err := client.Dial(client.Options{HostPort: address, Logger: tlog.NewStructuredLogger(testenv.Logger(t))})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ctx := context.Background()
	for _, tc := range dstDays {
		compiled, errs := series.Recurrence{Cron: tc.cron, TimeZone: tc.zone}.Compile(specNow)
		require.Empty(t, errs)
		id := testenv.Name("series-dst")
		_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID: id, Spec: compiled.ScheduleSpec(specNow, specNow), Paused: true,
			Action: &client.ScheduleWorkflowAction{ID: id, Workflow: "Nothing", TaskQueue: id},
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.ScheduleClient().GetHandle(context.Background(), id).Delete(context.Background()) })

		day := localDay(t, tc.zone, tc.day)
		from, to := day.AddDate(0, 0, -1), day.AddDate(0, 0, 2)
		res, err := c.WorkflowService().ListScheduleMatchingTimes(ctx, &workflowservice.ListScheduleMatchingTimesRequest{
			Namespace: "default", ScheduleId: id, StartTime: timestamppb.New(from), EndTime: timestamppb.New(to)})
		require.NoError(t, err)
		var times []time.Time
		for _, ts := range res.GetStartTime() {
			times = append(times, ts.AsTime())
		}
		perDay := map[string][]time.Time{}
		for _, at := range compiled.Next(times) {
			d := at.In(compiled.Location).Format(time.DateOnly)
			perDay[d] = append(perDay[d], at)
		}
		require.Len(t, perDay, 3, "%s %s %s: one occurrence on each of three days, got %v", tc.zone, tc.day, tc.cron, perDay)
		for d, at := range perDay {
			require.Len(t, at, 1, "%s %s %s: one occurrence on %s", tc.zone, tc.day, tc.cron, d)
		}
		require.Equal(t, tc.want, perDay[tc.day][0].UTC(), "%s %s %s: %s", tc.zone, tc.day, tc.cron, tc.why)
	}
}

func localDay(t *testing.T, zone, day string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	d, err := time.ParseInLocation(time.DateOnly, day, loc)
	require.NoError(t, err)
	return d
}

// Both actions of a time that occurs twice name one occurrence, due at the
// second instant; the spring day's extra action is due when it fires.
func TestOccurrenceOfEachAction(t *testing.T) {
	t.Parallel()
	c, _ := series.Recurrence{Cron: "30 1 * * *", TimeZone: "America/New_York"}.Compile(specNow)
	first, second := time.Date(2027, 11, 7, 5, 30, 0, 0, time.UTC), time.Date(2027, 11, 7, 6, 30, 0, 0, time.UTC)
	k1, due1 := c.Occurrence(first)
	k2, due2 := c.Occurrence(second)
	require.Equal(t, "2027-11-07T01:30:00", k1)
	require.Equal(t, k1, k2)
	require.Equal(t, second, due1)
	require.Equal(t, second, due2)
	plain := time.Date(2027, 11, 8, 6, 30, 0, 0, time.UTC)
	k, due := c.Occurrence(plain)
	require.Equal(t, "2027-11-08T01:30:00", k)
	require.Equal(t, plain, due)

	spring, _ := series.Recurrence{Cron: "30 2 * * *", TimeZone: "America/New_York"}.Compile(specNow)
	extra := time.Date(2027, 3, 14, 7, 30, 0, 0, time.UTC)
	k, due = spring.Occurrence(extra)
	require.Equal(t, "2027-03-14T03:30:00", k)
	require.Equal(t, extra, due)

	every, _ := series.Recurrence{Every: "1h"}.Compile(specNow)
	k, due = every.Occurrence(first.Add(time.Second / 2))
	require.Equal(t, "2027-11-07T05:30:00Z", k)
	require.Equal(t, first.Add(time.Second/2), due)
}
