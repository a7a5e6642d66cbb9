package chaos

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// soakTables are the tables that grow with traffic; the maintenance run
// (the workers' Temporal Schedule, every minute) prunes each past its
// horizon (CRIER_RETAIN_*, and the replay window for the stream log).
var soakTables = []string{"outbox", "stream_events", "processed_events", "deliveries"}

// soakSettings shorten every retention to a minute, so a few minutes of
// traffic show whether the tables level off.
var soakSettings = []string{
	"CRIER_RETAIN_OUTBOX=1m", "CRIER_RETAIN_PROCESSED_EVENTS=1m", "CRIER_RETAIN_DELIVERIES=1m",
	"CRIER_SSE_REPLAY_WINDOW=1m",
}

const (
	// soakEvery is the time between two samples of the tables' sizes.
	soakEvery = 10 * time.Second
	// soakRate is how many broadcasts a second the soak sends.
	soakRate = 1
	// soakLife is how long each soak broadcast lives before it expires.
	soakLife = 30 * time.Second
)

// Soak is the soak scenario: steady traffic for d (ALL, ROLE and SELECTED
// broadcasts sent now, each expiring 30 s later, a user reading all every
// 5 s) with retention shortened, sampling the tables' sizes.
func Soak(d time.Duration) Scenario {
	return Scenario{Name: "soak", Fault: fmt.Sprintf("no fault: %s of steady traffic (%d broadcast/s, each expiring after %s, "+
		"a read-all every 5 s) with retention shortened to a minute", d, soakRate, soakLife),
		Settle: d + soakLife + 30*time.Second, Estimate: d + soakLife + time.Minute, settings: soakSettings, soak: d}
}

// SoakResult is the tables' sizes over the soak.
type SoakResult struct {
	Settings []string
	Samples  []SoakSample
	Trends   []Trend
}

// SoakSample is the tables' row counts at one moment.
type SoakSample struct {
	At   time.Duration // since the traffic started
	Rows []int64       // in soakTables' order
}

// Trend says whether a table levelled off: its largest size in the last
// third of the samples is within 10 % (and 10 rows) of its largest in the
// middle third. A table that keeps growing at a steady rate has half as
// many rows again by then.
type Trend struct {
	Table        string
	Middle, Last int64
	LevelsOff    bool
}

// soak sends the steady traffic and samples the tables until d has passed.
func (r *run) soak(ctx context.Context, d time.Duration) (*SoakResult, error) {
	res := &SoakResult{Settings: soakSettings}
	r.due = time.Now()
	r.event("steady traffic for %s", d)
	send := time.NewTicker(time.Second / soakRate)
	defer send.Stop()
	sample := time.NewTicker(soakEvery)
	defer sample.Stop()
	for i := 0; time.Since(r.due) < d; {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-sample.C:
			s, err := r.sampleTables(ctx)
			if err != nil {
				return res, err
			}
			res.Samples = append(res.Samples, s)
			r.say("rows: %v (%v)", soakTables, s.Rows)
		case <-send.C:
			i++
			if err := r.soakOne(ctx, i); err != nil {
				return res, err
			}
		}
	}
	res.Trends = trends(res.Samples)
	return res, nil
}

// soakOne sends the soak's i-th broadcast, and every fifth a read-all.
func (r *run) soakOne(ctx context.Context, i int) error {
	p := &planned{Title: fmt.Sprintf("soak #%d", i), Fate: fateExpiring, Target: targets[i%len(targets)],
		Expires: time.Now().Add(soakLife)}
	if status, err := r.admin.create(ctx, p); err != nil {
		return fmt.Errorf("create %s: %w", p.Title, err)
	} else if status != http.StatusCreated {
		return fmt.Errorf("create %s: answered %d", p.Title, status)
	}
	r.plan = append(r.plan, p)
	if i%5 == 0 {
		u := users[i/5%len(users)]
		if err := r.readAll(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) sampleTables(ctx context.Context) (SoakSample, error) {
	s := SoakSample{At: time.Since(r.due)}
	for _, t := range soakTables {
		var n int64
		if err := r.pool.QueryRow(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			return s, fmt.Errorf("count %s: %w", t, err)
		}
		s.Rows = append(s.Rows, n)
	}
	return s, nil
}

// judgeSoak fails the soak for each table that kept growing.
func (v *Verdict) judgeSoak(s *SoakResult) {
	for _, t := range s.Trends {
		if !t.LevelsOff {
			v.Growing++
			v.note("%s kept growing over the soak: at most %d rows in the middle third of the samples, %d in the last",
				t.Table, t.Middle, t.Last)
		}
	}
}

// trends judges each table over the samples.
func trends(samples []SoakSample) []Trend {
	out := make([]Trend, len(soakTables))
	third := len(samples) / 3
	for i, t := range soakTables {
		out[i].Table = t
		if third == 0 {
			continue
		}
		for j, s := range samples {
			switch {
			case j >= 2*third:
				out[i].Last = max(out[i].Last, s.Rows[i])
			case j >= third:
				out[i].Middle = max(out[i].Middle, s.Rows[i])
			}
		}
		out[i].LevelsOff = out[i].Last <= out[i].Middle+out[i].Middle/10+10
	}
	return out
}
