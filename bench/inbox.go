package bench

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crier/crier/internal/auth"
)

// InboxScenario measures GET /me/broadcasts of a real `crier api` node over
// a database of 10,000 active broadcasts and 1,000,000 delivery rows, with
// 100 users asking at once.
type InboxScenario struct{}

// Inbox returns the inbox scenario.
func Inbox() Scenario { return InboxScenario{} }

// The inbox scenario's shape. Users, broadcasts and rows are the issue's;
// the rest is chosen so that a run says something within a few minutes.
const (
	inboxUsers      = 10_000
	inboxClients    = 100
	inboxRunFor     = 15 * time.Second
	inboxWarmUp     = 3 * time.Second
	inboxPace       = 100 * time.Millisecond // each user's request interval in the paced load
	inboxSecondPage = 5                      // every fifth first page is followed by its second page
	inboxGoal       = 10 * time.Millisecond
)

// Name implements Scenario.
func (InboxScenario) Name() string { return "inbox" }

// Estimate implements Scenario: up to 45 s of seeding, 15 s to start the
// node, 10 s for the first request of every user, then each run.
func (InboxScenario) Estimate(runs int) time.Duration {
	return 60*time.Second + time.Duration(runs)*(2*inboxRunFor+inboxWarmUp+2*time.Second)
}

// Run implements Scenario.
func (InboxScenario) Run(ctx context.Context, env Env) (Section, error) {
	name := "bench_inbox_" + env.ID
	dbURL, err := CreateDatabase(ctx, env.CrierBinary, env.DatabaseURL, name)
	if err != nil {
		return Section{}, err
	}
	seeded, err := seedInbox(ctx, dbURL, env.Say)
	if err != nil {
		return Section{}, err
	}
	topic := strings.ReplaceAll(name, "_", "-")
	if err := CreateTopic(ctx, env.Brokers, topic); err != nil {
		return Section{}, err
	}
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	secret := hex.EncodeToString(random)
	node, err := startInboxNode(ctx, env, dbURL, topic, secret)
	if err != nil {
		return Section{}, err
	}
	defer func() {
		if err := node.Close(); err != nil {
			env.Say("inbox: stopping crier api: %v", err)
		}
	}()
	load, err := newInboxLoad(node.URL, []byte(secret))
	if err != nil {
		return Section{}, err
	}
	load.nodePID, load.postmaster = node.PID(), postmasterPID(ctx, dbURL)
	defer load.close()

	env.Say("inbox: first request (loads the node's cache of active broadcasts)")
	first, err := load.first(ctx)
	if err != nil {
		return Section{}, err
	}
	env.Say("inbox: first request of each of the %s users, paced", fmtCount(inboxUsers))
	cold := load.coldPass(ctx)
	if err := cold.failure(); err != nil {
		return Section{}, fmt.Errorf("first requests: %w", err)
	}
	var runs []inboxRepeat
	for i := range env.Runs {
		load.run(ctx, inboxWarmUp, inboxPace) // discarded
		var r inboxRepeat
		env.Say("inbox: run %d/%d: %d users, each asking every %s, for %s", i+1, env.Runs, inboxClients, inboxPace, inboxRunFor)
		r.Paced = load.run(ctx, inboxRunFor, inboxPace)
		env.Say("inbox: run %d/%d: %d users asking back to back for %s", i+1, env.Runs, inboxClients, inboxRunFor)
		r.BackToBack = load.run(ctx, inboxRunFor, 0)
		for _, m := range []inboxRun{r.Paced, r.BackToBack} {
			if err := m.failure(); err != nil {
				return Section{}, fmt.Errorf("run %d: %w", i+1, err)
			}
		}
		env.Say("inbox: run %d: paced %s", i+1, r.Paced)
		env.Say("inbox: run %d: back to back %s", i+1, r.BackToBack)
		runs = append(runs, r)
	}
	if ctx.Err() != nil {
		return Section{}, ctx.Err()
	}
	return inboxSection(seeded, first, cold, runs), nil
}

// inboxRepeat is one repetition: the paced load, then back to back.
type inboxRepeat struct {
	Paced, BackToBack inboxRun
}

// startInboxNode starts `crier api` alone (no worker, no relay: nothing is
// published during the scenario), with the benchmark's secret and without
// rate limits.
func startInboxNode(ctx context.Context, env Env, dbURL, topic, secret string) (*Node, error) {
	logPath := filepath.Join(env.StateDir, "crier-inbox.log")
	env.Say("inbox: starting crier api (log %s)", logPath)
	return StartNode(ctx, NodeConfig{Binary: env.CrierBinary, Command: "api", DatabaseURL: dbURL, Brokers: env.Brokers,
		TemporalAddress: env.TemporalAddress, Topic: topic, TaskQueue: topic, NodeID: "crierbench-inbox", LogPath: logPath,
		Env: []string{"CRIER_JWT_SECRET=" + secret,
			// One client address and 100 users asking back to back: the
			// default limits (50/s per address, 20/s per user) would answer 429.
			"CRIER_RATE_PER_ADDRESS=0", "CRIER_RATE_PER_USER=0"}})
}

// inboxSeed is what seedInbox wrote.
type inboxSeed struct {
	Broadcasts, All, Role, Selected int
	Rows, Read                      int
	Took                            time.Duration
}

// inboxUserID names seeded user u (0 ≤ u < inboxUsers).
func inboxUserID(u int) string { return fmt.Sprintf("user-%05d", u) }

// inboxRoles are the two roles of seeded user u, as the seed gives them
// (the SQL below computes the same).
func inboxRoles(u int) []string {
	a, b := u%50, (u%50+1+(u/50)%49)%50
	return []string{fmt.Sprintf("team-%02d", a), fmt.Sprintf("team-%02d", b)}
}

// inboxSeedSQL fills a fresh database, one statement per step. Broadcast j
// (0..9,999) has id md5('inbox-j'), was published j minutes before $1 and
// expires 30 days after; one in 250 targets ALL, 24 in 250 one of 50 roles,
// the rest 80 users each. Users hold two roles each.
var inboxSeedSQL = []struct{ what, sql string }{
	{"10,000 users", `
INSERT INTO users (id, name, roles)
SELECT 'user-' || lpad(u::text, 5, '0'), 'User ' || u,
       ARRAY['team-' || lpad((u % 50)::text, 2, '0'), 'team-' || lpad(((u % 50 + 1 + (u / 50) % 49) % 50)::text, 2, '0')]
FROM generate_series(0, 9999) u`},
	{"10,000 sent broadcasts", `
INSERT INTO broadcasts (id, status, sender_id, sender_name, title, content, category, priority, target_type, target_ids,
                        scheduled_at, expires_at, created_at, updated_at, published_at, workflow_id)
SELECT md5('inbox-' || j)::uuid, 'SENT', 'bench-admin', 'Bench Admin', 'Announcement number ' || j,
       'Announcement ' || j || ': ' || repeat('the quick brown fox jumps over the lazy dog; ', 6),
       (ARRAY['general', 'it', 'hr', 'security'])[j % 4 + 1], (ARRAY['LOW', 'NORMAL', 'NORMAL', 'HIGH', 'URGENT'])[j % 5 + 1],
       kind, CASE kind
           WHEN 'ALL' THEN '{}'::text[]
           WHEN 'ROLE' THEN ARRAY['team-' || lpad((((j / 250) * 24 + j % 250 - 1) % 50)::text, 2, '0')]
           ELSE ARRAY(SELECT 'user-' || lpad(((j * 7919 + k * 101) % 10000)::text, 5, '0') FROM generate_series(0, 79) k)
       END,
       at, at + interval '30 days', at - interval '1 minute', at, at, 'broadcast:' || md5('inbox-' || j)::uuid
FROM generate_series(0, 9999) j,
     LATERAL (SELECT $1::timestamptz - j * interval '1 minute' AS at,
                     CASE WHEN j % 250 = 0 THEN 'ALL' WHEN j % 250 <= 24 THEN 'ROLE' ELSE 'SELECTED' END AS kind) k`},
	// Fan-out on write: a row per target of every SELECTED broadcast; 30 %
	// read, 20 % not delivered yet (the user was offline).
	{"720,000 rows of SELECTED broadcasts", `
INSERT INTO deliveries (broadcast_id, user_id, status, created_at, delivered_at, read_at)
SELECT md5('inbox-' || j)::uuid, 'user-' || lpad(u::text, 5, '0'),
       CASE WHEN h BETWEEN 3 AND 4 THEN 'PENDING' ELSE 'DELIVERED' END, at,
       CASE WHEN h BETWEEN 3 AND 4 THEN NULL ELSE at + ($1 - at) * ((h + 1) / 24.0) END,
       CASE WHEN h < 3 THEN at + ($1 - at) * ((h + 1) / 12.0) END
FROM generate_series(0, 9999) j
     CROSS JOIN LATERAL generate_series(0, 79) k
     CROSS JOIN LATERAL (SELECT (j * 7919 + k * 101) % 10000 AS u, $1::timestamptz - j * interval '1 minute' AS at) t
     CROSS JOIN LATERAL (SELECT (u * 13 + j * 7) % 10 AS h) s
WHERE j % 250 > 24`},
	// Fan-out on read: ALL and ROLE broadcasts have a row only for a user
	// who received it live or read it; half of those rows are read.
	{"ALL and ROLE rows of users who received them", `
INSERT INTO deliveries (broadcast_id, user_id, status, created_at, delivered_at, read_at)
SELECT md5('inbox-' || j)::uuid, 'user-' || lpad(u::text, 5, '0'), 'DELIVERED', at + ($1 - at) * ((h + 1) / 24.0),
       at + ($1 - at) * ((h + 1) / 24.0), CASE WHEN h < 5 THEN at + ($1 - at) * ((h + 1) / 12.0) END
FROM (SELECT j FROM generate_series(0, 9999) j WHERE j % 250 <= 24) b
     CROSS JOIN generate_series(0, 9999) u
     CROSS JOIN LATERAL (SELECT $1::timestamptz - j * interval '1 minute' AS at, (u * 13 + j * 7) % 10 AS h,
                                ((j / 250) * 24 + j % 250 - 1) % 50 AS role) t
WHERE (j % 250 = 0 AND (u * 7 + (j / 250) * 13) % 50 < 23)
   OR (j % 250 BETWEEN 1 AND 24 AND (u % 50 = role OR (u % 50 + 1 + (u / 50) % 49) % 50 = role)
       AND (u * 3 + j / 250 + (u / 50) * 5) % 4 = 0)`},
	// What autovacuum would do soon after such a load; without it the
	// planner has no statistics for the first minute.
	{"VACUUM ANALYZE", `VACUUM ANALYZE`},
}

func seedInbox(ctx context.Context, dbURL string, say func(string, ...any)) (inboxSeed, error) {
	began := time.Now()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return inboxSeed{}, fmt.Errorf("connect to the inbox database: %w", err)
	}
	defer closeConn(ctx, conn)
	now := time.Now().UTC()
	for _, step := range inboxSeedSQL {
		say("inbox: seeding %s", step.what)
		stepBegan := time.Now()
		var args []any
		if strings.Contains(step.sql, "$1") {
			args = append(args, now)
		}
		if _, err := conn.Exec(ctx, step.sql, args...); err != nil {
			return inboxSeed{}, fmt.Errorf("seed %s: %w", step.what, err)
		}
		say("inbox: seeded %s in %s", step.what, fmtDuration(time.Since(stepBegan)))
	}
	var s inboxSeed
	err = conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM broadcasts WHERE status = 'SENT' AND expires_at > now()),
		(SELECT count(*) FROM broadcasts WHERE target_type = 'ALL'),
		(SELECT count(*) FROM broadcasts WHERE target_type = 'ROLE'),
		(SELECT count(*) FROM broadcasts WHERE target_type = 'SELECTED'),
		(SELECT count(*) FROM deliveries), (SELECT count(*) FROM deliveries WHERE read_at IS NOT NULL)`).
		Scan(&s.Broadcasts, &s.All, &s.Role, &s.Selected, &s.Rows, &s.Read)
	if err != nil {
		return s, fmt.Errorf("count the seed: %w", err)
	}
	s.Took = time.Since(began)
	say("inbox: seeded %s active broadcasts, %s delivery rows (%s read) in %s", fmtCount(s.Broadcasts), fmtCount(s.Rows),
		fmtCount(s.Read), fmtDuration(s.Took))
	return s, nil
}

// postmasterPID is the PostgreSQL server's process id, when it runs on
// this machine and /proc shows it; else 0.
func postmasterPID(ctx context.Context, dbURL string) int {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0
	}
	defer closeConn(ctx, conn)
	var backend int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0
	}
	return parentPID(fmt.Sprintf("/proc/%d/stat", backend))
}

// inboxLoad is 100 keep-alive HTTP clients; client c asks for users c,
// c+100, c+200, … in turn, so every user is asked for by one client only.
type inboxLoad struct {
	// nodePID and postmaster are the processes whose CPU time a run reports.
	nodePID, postmaster int
	base                string
	transport           *http.Transport
	http                *http.Client
	tokens              []string // by user
}

func newInboxLoad(base string, secret []byte) (*inboxLoad, error) {
	tokens := make([]string, inboxUsers)
	now := time.Now()
	for u := range tokens {
		t, err := auth.Issue(secret, inboxUserID(u), fmt.Sprintf("User %d", u), inboxRoles(u), time.Hour, now)
		if err != nil {
			return nil, fmt.Errorf("mint a token: %w", err)
		}
		tokens[u] = t
	}
	tr := &http.Transport{MaxIdleConns: 2 * inboxClients, MaxIdleConnsPerHost: 2 * inboxClients, IdleConnTimeout: time.Minute}
	return &inboxLoad{base: base, transport: tr, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}, tokens: tokens}, nil
}

func (l *inboxLoad) close() { l.transport.CloseIdleConnections() }

// get asks for one page of user u's inbox and reads the answer into buf
// (each client has its own, so the load makes little garbage). The latency
// ends when the whole body has arrived; decoding it is the client's
// business, not the server's.
func (l *inboxLoad) get(ctx context.Context, u int, cursor string, buf *bytes.Buffer) (time.Duration, []byte, error) {
	url := l.base + "/api/v1/me/broadcasts"
	if cursor != "" {
		url += "?cursor=" + cursor
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+l.tokens[u])
	began := time.Now()
	resp, err := l.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	took := time.Since(began)
	resp.Body.Close()
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return took, nil, fmt.Errorf("GET %s answered %d: %.200s", url, resp.StatusCode, buf.Bytes())
	}
	return took, buf.Bytes(), nil
}

// inboxPage is the part of an answer the load reads.
type inboxPage struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

func decodeInboxPage(body []byte) (inboxPage, error) {
	var page inboxPage
	if err := json.Unmarshal(body, &page); err != nil {
		return page, fmt.Errorf("read an inbox page: %w", err)
	}
	return page, nil
}

// first is the very first request: it loads the node's cache.
func (l *inboxLoad) first(ctx context.Context) (time.Duration, error) {
	took, body, err := l.get(ctx, 0, "", &bytes.Buffer{})
	if err != nil {
		return took, err
	}
	page, err := decodeInboxPage(body)
	if err == nil && (len(page.Items) != 20 || page.NextCursor == "") {
		err = fmt.Errorf("user-00000's inbox has %d items on its first page and next cursor %q: not what the seed holds",
			len(page.Items), page.NextCursor)
	}
	return took, err
}

// coldPass is the paced load asking once for each user's first page: every
// request is its user's first on this node.
func (l *inboxLoad) coldPass(ctx context.Context) inboxRun {
	return l.measure(ctx, func(c int, rec *inboxRecorder) {
		var buf bytes.Buffer
		due := time.Now().Add(inboxPace * time.Duration(c) / inboxClients)
		for u := c; u < inboxUsers && ctx.Err() == nil; u += inboxClients {
			sleepUntil(ctx, due)
			due = due.Add(inboxPace)
			took, _, err := l.get(ctx, u, "", &buf)
			rec.add(c, took, false, err)
		}
	})
}

// run makes the clients ask for their users' first pages in turn for d,
// every fifth followed by its second page. With pace zero each client
// asks again as soon as it has its answer; otherwise it starts a request
// every pace (the clients' schedules spread over one pace), or at once
// when the previous one took longer.
func (l *inboxLoad) run(ctx context.Context, d, pace time.Duration) inboxRun {
	stop := time.Now().Add(d)
	return l.measure(ctx, func(c int, rec *inboxRecorder) {
		var buf bytes.Buffer
		due := time.Now().Add(pace * time.Duration(c) / inboxClients)
		for i, u := 0, c; ctx.Err() == nil; i, u = i+1, (u+inboxClients)%inboxUsers {
			if pace > 0 {
				sleepUntil(ctx, due)
				due = due.Add(pace)
			}
			if !time.Now().Before(stop) {
				return
			}
			took, body, err := l.get(ctx, u, "", &buf)
			rec.add(c, took, false, err)
			if err != nil || i%inboxSecondPage != inboxSecondPage-1 {
				continue
			}
			page, err := decodeInboxPage(body)
			if err == nil && page.NextCursor != "" {
				took, _, err = l.get(ctx, u, page.NextCursor, &buf)
				rec.add(c, took, true, err)
			} else if err != nil {
				rec.add(c, 0, true, err)
			}
		}
	})
}

func sleepUntil(ctx context.Context, t time.Time) {
	wait := time.Until(t)
	if wait <= 0 {
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// measure runs client(c) for every client at once and returns what they
// recorded, with the CPU time spent meanwhile and crier's own account of
// its answers.
func (l *inboxLoad) measure(ctx context.Context, client func(c int, rec *inboxRecorder)) inboxRun {
	rec := newInboxRecorder(inboxClients)
	histBefore, _ := l.serverHistogram(ctx)
	before := readCPU(l.nodePID, l.postmaster)
	began := time.Now()
	var wg sync.WaitGroup
	for c := range inboxClients {
		wg.Go(func() { client(c, rec) })
	}
	wg.Wait()
	elapsed := time.Since(began)
	run := rec.result(elapsed, readCPU(l.nodePID, l.postmaster).since(before, elapsed))
	if histAfter, err := l.serverHistogram(ctx); err == nil && histBefore != nil {
		run.Server = histAfter.since(histBefore)
	}
	return run
}

// latencyHistogram is crier's crier_http_request_duration_seconds for GET
// /api/v1/me/broadcasts: answers so far at or under each bound (seconds).
type latencyHistogram struct {
	bounds []float64
	counts []float64
}

// serverHistogram scrapes crier's /metrics.
func (l *inboxLoad) serverHistogram(ctx context.Context) (*latencyHistogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return parseLatencyHistogram(string(body))
}

// parseLatencyHistogram reads the buckets of GET /api/v1/me/broadcasts from a
// Prometheus text exposition.
func parseLatencyHistogram(text string) (*latencyHistogram, error) {
	h := &latencyHistogram{}
	for line := range strings.Lines(text) {
		if !strings.HasPrefix(line, "crier_http_request_duration_seconds_bucket{") ||
			!strings.Contains(line, `route="/api/v1/me/broadcasts"`) || !strings.Contains(line, `method="GET"`) {
			continue
		}
		_, le, _ := strings.Cut(line, `le="`)
		le, rest, _ := strings.Cut(le, `"}`)
		var bound, count float64
		if le == "+Inf" {
			bound = math.Inf(1)
		} else if _, err := fmt.Sscan(le, &bound); err != nil {
			continue
		}
		if _, err := fmt.Sscan(strings.TrimSpace(rest), &count); err != nil {
			continue
		}
		h.bounds, h.counts = append(h.bounds, bound), append(h.counts, count)
	}
	if len(h.bounds) == 0 {
		return nil, errors.New("no histogram of GET /api/v1/me/broadcasts in crier's /metrics")
	}
	return h, nil
}

func (h *latencyHistogram) since(before *latencyHistogram) *latencyHistogram {
	out := &latencyHistogram{bounds: h.bounds, counts: slices.Clone(h.counts)}
	for i := range out.counts {
		if i < len(before.counts) {
			out.counts[i] -= before.counts[i]
		}
	}
	return out
}

// within is the share of answers that took at most d, if d is a bound.
func (h *latencyHistogram) within(d time.Duration) (float64, bool) {
	if h == nil || len(h.counts) == 0 || h.counts[len(h.counts)-1] == 0 {
		return 0, false
	}
	i := slices.Index(h.bounds, d.Seconds())
	if i < 0 {
		return 0, false
	}
	return h.counts[i] / h.counts[len(h.counts)-1], true
}

// inboxRecorder collects latencies, one slot per client so clients never
// contend for a lock.
type inboxRecorder struct {
	clients []inboxClientRecord
}

type inboxClientRecord struct {
	first, second []time.Duration
	errors        int
	err           error
}

func newInboxRecorder(clients int) *inboxRecorder {
	return &inboxRecorder{clients: make([]inboxClientRecord, clients)}
}

// add records one request of client c; a failed request counts as an error,
// not as a latency.
func (r *inboxRecorder) add(c int, took time.Duration, secondPage bool, err error) {
	rec := &r.clients[c]
	switch {
	case err != nil:
		rec.errors++
		if rec.err == nil {
			rec.err = err
		}
	case secondPage:
		rec.second = append(rec.second, took)
	default:
		rec.first = append(rec.first, took)
	}
}

// inboxRun is one stretch of load.
type inboxRun struct {
	// All, First and Second are every request, first pages and second pages.
	All, First, Second Summary
	Errors             int
	Err                error // the first error
	Elapsed            time.Duration
	// PerSecond is answered requests per second.
	PerSecond float64
	CPU       cpuUse
	// Server is crier's own histogram of its answers meanwhile, from
	// handler entry to exit (nil if it could not be read).
	Server *latencyHistogram
}

func (r *inboxRecorder) result(elapsed time.Duration, cpu cpuUse) inboxRun {
	var first, second []time.Duration
	run := inboxRun{Elapsed: elapsed, CPU: cpu}
	for _, c := range r.clients {
		first = append(first, c.first...)
		second = append(second, c.second...)
		run.Errors += c.errors
		if run.Err == nil {
			run.Err = c.err
		}
	}
	run.First, run.Second = Summarize(first), Summarize(second)
	run.All = Summarize(append(first, second...))
	if elapsed > 0 {
		run.PerSecond = float64(run.All.Count) / elapsed.Seconds()
	}
	return run
}

func (r inboxRun) failure() error {
	if r.Errors == 0 {
		return nil
	}
	return fmt.Errorf("%s of %s requests failed, the first with: %w", fmtCount(r.Errors), fmtCount(r.Errors+r.All.Count), r.Err)
}

func (r inboxRun) String() string {
	server := ""
	if share, ok := r.Server.within(inboxGoal); ok {
		server = fmt.Sprintf("; crier answered %.2f %% within %s", 100*share, fmtDuration(inboxGoal))
	}
	return fmt.Sprintf("%s requests, %.0f/s, p50 %s, p99 %s, max %s; CPU %s%s", fmtCount(r.All.Count), r.PerSecond,
		fmtDuration(r.All.P50), fmtDuration(r.All.P99), fmtDuration(r.All.Max), r.CPU, server)
}

// cpuUse is CPU time over a stretch, in cores (1 = one core all along).
type cpuUse struct {
	Node, Postgres, Client, Machine float64
}

func (u cpuUse) String() string {
	return fmt.Sprintf("crier %.2f, PostgreSQL %.2f, load client %.2f, whole machine %.2f cores", u.Node, u.Postgres, u.Client, u.Machine)
}

// cpuSample is CPU time so far, in clock ticks (USER_HZ, 100 a second on
// Linux), read from /proc; zero where it cannot be read.
type cpuSample struct {
	node, postgres, client, busy int64
}

// readCPU samples crier (pid), PostgreSQL (postmaster and its children),
// this process and the whole machine.
func readCPU(pid, postmaster int) cpuSample {
	s := cpuSample{node: processTicks(fmt.Sprintf("/proc/%d/stat", pid)), client: processTicks("/proc/self/stat")}
	if postmaster > 0 {
		s.postgres = processTicks(fmt.Sprintf("/proc/%d/stat", postmaster))
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			if d.Name()[0] < '0' || d.Name()[0] > '9' {
				continue
			}
			path := "/proc/" + d.Name() + "/stat"
			if parentPID(path) == postmaster {
				s.postgres += processTicks(path)
			}
		}
	}
	s.busy = machineBusy()
	return s
}

func (s cpuSample) since(before cpuSample, elapsed time.Duration) cpuUse {
	cores := func(ticks int64) float64 { return float64(ticks) / userHZ / elapsed.Seconds() }
	return cpuUse{Node: cores(s.node - before.node), Postgres: cores(s.postgres - before.postgres),
		Client: cores(s.client - before.client), Machine: cores(s.busy - before.busy)}
}

// inboxSection writes the report's section.
func inboxSection(seed inboxSeed, first time.Duration, cold inboxRun, runs []inboxRepeat) Section {
	var paced, backToBack []inboxRun
	for _, r := range runs {
		paced, backToBack = append(paced, r.Paced), append(backToBack, r.BackToBack)
	}
	all := func(r inboxRun) Summary { return r.All }
	second := func(r inboxRun) Summary { return r.Second }
	goal := overRuns(paced, all, true)
	capacity := overRuns(backToBack, all, true)

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("Seed: %s active broadcasts (%s ALL, %s ROLE, %s SELECTED), %s delivery rows (%s read), written in %s.",
		fmtCount(seed.Broadcasts), fmtCount(seed.All), fmtCount(seed.Role), fmtCount(seed.Selected), fmtCount(seed.Rows),
		fmtCount(seed.Read), fmtDuration(seed.Took))
	p("")
	p("| %d users, %d run(s) | requests | p50 | p99 | max | requests/s | crier ≤ %s |", inboxClients, len(runs), fmtDuration(inboxGoal))
	p("|---|---|---|---|---|---|---|")
	for _, row := range []struct {
		name string
		f    inboxFigures
	}{
		{fmt.Sprintf("**paced**, each user every %s", fmtDuration(inboxPace)), goal},
		{"… second pages only (cursor)", overRuns(paced, second, false)},
		{"**cold**: paced, each user's first request", overRuns([]inboxRun{cold}, all, true)},
		{"**back to back** (capacity)", capacity},
	} {
		p("| %s | %s | %s | %s | %s | %s | %s |", row.name, fmtCount(row.f.Count), fmtSpread(row.f.P50), fmtSpread(row.f.P99),
			fmtSpread(row.f.Max), fmtRates(row.f.Rates, fmtPerSecond), fmtRates(row.f.Server, fmtShare))
	}
	p("| first request after start (fills the cache) | 1 | %s | | | | |", fmtDuration(first))
	p("")
	p("CPU in cores (the machine has %d), in the run of median throughput:", runtime.NumCPU())
	p("")
	p("| load | crier | PostgreSQL | load client | whole machine |")
	p("|---|---|---|---|---|")
	for _, load := range []struct {
		name string
		runs []inboxRun
	}{{"paced", paced}, {"back to back", backToBack}} {
		if u, ok := medianCPU(load.runs); ok {
			p("| %s | %.2f | %.2f | %.2f | %.2f |", load.name, u.Node, u.Postgres, u.Client, u.Machine)
		}
	}
	return Section{
		Title:   "Inbox reads",
		Method:  inboxMethod,
		Results: b.String(),
		Goals: []Goal{{
			What: fmt.Sprintf("inbox GET /me/broadcasts p99 ≤ %s at %d concurrent users", fmtDuration(inboxGoal), inboxClients),
			Reached: fmt.Sprintf("p99 %s with each user asking every %s (%s requests/s); back to back: p99 %s at %s requests/s",
				fmtSpread(goal.P99), fmtDuration(inboxPace), fmtMedian(goal.Rates, fmtPerSecond), fmtSpread(capacity.P99),
				fmtMedian(capacity.Rates, fmtPerSecond)),
			Met: goal.P99.Runs > 0 && goal.P99.Median <= inboxGoal,
		}},
	}
}

// inboxFigures is one summary of one load over runs.
type inboxFigures struct {
	Count         int
	P50, P99, Max Spread
	// Rates are the summary's requests per second, and Server the share
	// (%) of answers crier gave within the goal, by run.
	Rates, Server []float64
}

func overRuns(runs []inboxRun, summary func(inboxRun) Summary, server bool) inboxFigures {
	var f inboxFigures
	var p50, p99, maxi []time.Duration
	for _, r := range runs {
		s := summary(r)
		if s.Count == 0 {
			continue
		}
		f.Count += s.Count
		p50, p99, maxi = append(p50, s.P50), append(p99, s.P99), append(maxi, s.Max)
		f.Rates = append(f.Rates, float64(s.Count)/r.Elapsed.Seconds())
		if share, ok := r.Server.within(inboxGoal); ok && server {
			f.Server = append(f.Server, 100*share)
		}
	}
	f.P50, f.P99, f.Max = SpreadOf(p50), SpreadOf(p99), SpreadOf(maxi)
	return f
}

// fmtRates is the median of xs and their range, each formatted by f.
func fmtRates(xs []float64, f func(float64) string) string {
	m, lo, hi := RateSpread(xs)
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return f(m)
	}
	return fmt.Sprintf("%s (%s – %s)", f(m), f(lo), f(hi))
}

func fmtMedian(xs []float64, f func(float64) string) string {
	m, _, _ := RateSpread(xs)
	return f(m)
}

func fmtPerSecond(x float64) string { return fmtCount(int(math.Round(x))) }

func fmtShare(percent float64) string { return fmt.Sprintf("%.2f %%", percent) }

// medianCPU is the CPU use of the run of median throughput.
func medianCPU(runs []inboxRun) (cpuUse, bool) {
	if len(runs) == 0 {
		return cpuUse{}, false
	}
	byRate := slices.Clone(runs)
	slices.SortStableFunc(byRate, func(a, b inboxRun) int { return cmp.Compare(a.PerSecond, b.PerSecond) })
	return byRate[(len(byRate)-1)/2].CPU, true
}

// inboxMethod is the section's account of what is measured.
const inboxMethod = `
**What.** ` + "`GET /api/v1/me/broadcasts`" + ` on one real ` + "`crier api`" + ` node (API only: nothing is published meanwhile)
with its default configuration (a pool of 20 PostgreSQL connections) except a random ` + "`CRIER_JWT_SECRET`" + `, with which the
benchmark signs each user's own token (` + "`auth.Issue`" + `, HS256), and the request limits switched off
(` + "`CRIER_RATE_PER_ADDRESS=0`, `CRIER_RATE_PER_USER=0`" + `): every client comes from one loopback address, and the defaults
(50 requests/s per address, 20 per user) would answer 429.

**Data**, seeded with SQL into a fresh database: 10,000 users holding 2 of 50 roles each; 10,000 ` + "`SENT`" + ` broadcasts,
published one a minute over the last 7 days, expiring 30 days after publication: 40 for ALL, 960 for one role each, 9,000
for 80 users each. Delivery rows as Crier writes them: one per target of a SELECTED broadcast (fan-out on write; 30 % read,
20 % not delivered yet), and for ALL and ROLE broadcasts one per user who received or read it (fan-out on read: 46 % of
users for ALL, a quarter of the role's holders for ROLE; half of them read). About 100 rows per user, spread evenly; each
inbox holds about 150 broadcasts. Then ` + "`VACUUM ANALYZE`" + `.

**Load.** 100 keep-alive HTTP clients in the benchmark process; client *c* asks for users *c*, *c* + 100, *c* + 200, … in
turn, so all 10,000 users are asked for, each by one client. Each request is a first page (default limit, 20 items); every
fifth is followed by its second page through ` + "`next_cursor`" + `. Latency is the client's, from sending the request to the
last byte of the answer.

- **paced** (the goal's figure): each client starts a request every 100 ms, the clients spread over the 100 ms (one that
  overruns its slot delays the next, which then starts at once): 100 users asking for 10 pages a second each, about 1,200
  requests/s with the second pages. 15 s per run, after 3 s of the same, discarded.
- **back to back** (capacity): each client sends its next request as soon as it has its answer, 15 s per run. With 100
  requests always in flight, latency ≈ 100 / throughput (Little's law): a p99 of 10 ms back to back would take well over
  10,000 requests/s from 2 cores shared with PostgreSQL and the load client.
- **cold**: before the runs, the paced load asks once for each user's first page: the user's first request on this node,
  which also records the user from the token (an upsert into ` + "`users`" + `).
- **first request after start**: the node's inbox cache is empty until then; that request loads every active broadcast
  (one query, 10,000 rows) and indexes them by audience. From then on broadcasts come from the cache, kept current by the
  node's Kafka events, and only read state from PostgreSQL (one indexed query per page). The cache is reloaded every 5
  minutes in the background; requests meanwhile are answered from the current copy. No run here spans one.

Per run: nearest-rank p50 and p99, and the maximum; per figure, the median over runs with their range in brackets.
**crier ≤ 10 ms** is the share of answers that crier's own histogram (` + "`crier_http_request_duration_seconds`" + `, from its
middleware to the handler's return) puts within 10 ms; what the client sees beyond that is the HTTP stack, the kernel and
waiting for a CPU. CPU time is read from ` + "`/proc`" + `: crier, PostgreSQL (the postmaster and its children), the benchmark
process, and the whole machine, which includes anything else running on it.
`
