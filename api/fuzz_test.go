package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
)

// The fuzz targets here drive the real Echo handlers (api.New) with the
// in-memory fakes of memfakes_test.go, so they need no database and run
// thousands of requests a second. Their seed corpora are in
// testdata/fuzz/<target>/; a failing input is written there too. The rule
// they check is the API's promise: whatever the request, no 5xx, and every
// refusal is a 4xx problem+json with a message.

// fuzzNow is the API's clock in the fuzz targets; the seeds' times are
// relative to it.
var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// fuzzBroadcastID names the broadcast the reschedule target changes.
var fuzzBroadcastID = uuid.MustParse("019ac8a4-1f7e-7c3a-9d5e-2a1b3c4d5e6f")

// goodTicket is the one stream ticket memTickets knows.
const goodTicket = "good-ticket"

// fuzzAPI is the API over the fakes, built once per fuzz target and reset
// before each input.
type fuzzAPI struct {
	e       *echo.Echo
	store   *memStore
	wf      *memWorkflows
	tickets *memTickets
	token   string
	// errors holds the API's error logs of the current request: why a 5xx
	// happened.
	errors bytes.Buffer
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	f.Helper()
	secret := []byte("crier-fuzz-test-secret-012345678")
	token, err := auth.Issue(secret, "admin-1", "Ada Admin", []string{auth.RoleAdmin}, 24*time.Hour, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	st := newMemStore()
	fa := &fuzzAPI{store: st, wf: &memWorkflows{store: st}, tickets: &memTickets{}, token: token}
	fa.e = api.New(st, fa.wf, api.Config{
		Verifier: auth.NewVerifier(secret),
		Clock:    func() time.Time { return fuzzNow },
		Logger:   slog.New(slog.NewTextHandler(&fa.errors, &slog.HandlerOptions{Level: slog.LevelError})),
		Users:    api.UserConfig{Inbox: memInbox{}, Streams: memStreams{}, Tickets: fa.tickets},
	})
	return fa
}

// serve answers one request built by the caller.
func (fa *fuzzAPI) serve(req *http.Request) *httptest.ResponseRecorder {
	fa.errors.Reset()
	rec := httptest.NewRecorder()
	fa.e.ServeHTTP(rec, req)
	return rec
}

// post sends body as an admin with the given Content-Type ("" for none).
func (fa *fuzzAPI) post(target string, body []byte, contentType string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set(echo.HeaderAuthorization, "Bearer "+fa.token)
	if contentType != "" {
		req.Header.Set(echo.HeaderContentType, contentType)
	}
	return fa.serve(req)
}

// contentTypes are the Content-Types the targets choose from: the API reads
// JSON whatever the header says.
var contentTypes = []string{echo.MIMEApplicationJSON, "", "application/json; charset=utf-8", "text/plain",
	"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16"}

// requireNo5xx checks the API's promise for any answer: never a 5xx, and a
// refusal is a 4xx application/problem+json whose detail says what is wrong.
// It reports whether the request succeeded.
func (fa *fuzzAPI) requireNo5xx(t *testing.T, rec *httptest.ResponseRecorder) bool {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("answered %d: %s\nthe API logged: %s", rec.Code, rec.Body, fa.errors.String())
	}
	if rec.Code >= 200 && rec.Code < 300 {
		return true
	}
	if rec.Code < 400 {
		t.Fatalf("answered %d, neither a success nor a refusal: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get(echo.HeaderContentType); ct != "application/problem+json" {
		t.Fatalf("a %d answer has Content-Type %q, want application/problem+json: %s", rec.Code, ct, rec.Body)
	}
	var p api.Problem
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("a %d answer is not a problem: %v: %s", rec.Code, err, rec.Body)
	}
	if p.Status != rec.Code || p.Title != http.StatusText(rec.Code) || strings.TrimSpace(p.Detail) == "" {
		t.Fatalf("a %d answer's problem lacks its status, title or detail: %+v", rec.Code, p)
	}
	if rec.Code == http.StatusUnprocessableEntity && strings.HasPrefix(p.Detail, "the request is not valid") && len(p.Errors) == 0 {
		t.Fatalf("a validation problem lists no field: %+v", p)
	}
	return false
}

// decodeAnswer reads a successful answer's broadcast.
func decodeAnswer(t *testing.T, rec *httptest.ResponseRecorder) broadcast.Broadcast {
	t.Helper()
	if ct := rec.Header().Get(echo.HeaderContentType); !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		t.Fatalf("a %d answer has Content-Type %q", rec.Code, ct)
	}
	var b broadcast.Broadcast
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("a %d answer is not a broadcast: %v: %s", rec.Code, err, rec.Body)
	}
	return b
}

// FuzzCreateRequest posts arbitrary bodies to POST /api/v1/broadcasts. A
// broadcast that is created is one validation accepts again, holding the
// request's content byte for byte.
func FuzzCreateRequest(f *testing.F) {
	fa := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, contentType uint8, idempotencyKey string) {
		fa.store.reset()
		fa.wf.reset()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/broadcasts", bytes.NewReader(body))
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+fa.token)
		if ct := contentTypes[int(contentType)%len(contentTypes)]; ct != "" {
			req.Header.Set(echo.HeaderContentType, ct)
		}
		if idempotencyKey != "" {
			req.Header.Set("Idempotency-Key", idempotencyKey)
		}
		rec := fa.serve(req)
		started, _ := fa.wf.calls()
		if !fa.requireNo5xx(t, rec) {
			if fa.store.inserts != 0 || len(started) != 0 {
				t.Fatalf("a refused create stored %d broadcasts and started %d workflows", fa.store.inserts, len(started))
			}
			return
		}
		if rec.Code != http.StatusCreated {
			t.Fatalf("a create on an empty store answered %d, want 201", rec.Code)
		}
		stored, one := fa.store.only()
		if !one {
			t.Fatal("a 201 without exactly one stored broadcast")
		}
		var sent struct {
			Title, Content string
			Draft          bool
		}
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("the API accepted a body encoding/json refuses: %v", err)
		}
		if (stored.Status == broadcast.StatusDraft) != sent.Draft || (!sent.Draft && stored.Status != broadcast.StatusScheduled) {
			t.Fatalf("a create with draft %v made a %s broadcast", sent.Draft, stored.Status)
		}
		if stored.Content != sent.Content {
			t.Fatalf("content stored as %q, sent %q", stored.Content, sent.Content)
		}
		if stored.Title != strings.TrimSpace(sent.Title) {
			t.Fatalf("title stored as %q, sent %q", stored.Title, sent.Title)
		}
		answer := decodeAnswer(t, rec)
		if answer.ID != stored.ID || answer.Title != stored.Title || answer.Content != stored.Content {
			t.Fatalf("the answer %+v is not the stored broadcast %+v", answer, stored)
		}
		spec := broadcast.Spec{Title: stored.Title, Content: stored.Content, Category: stored.Category, Priority: stored.Priority,
			Target: stored.Target, ScheduledAt: stored.ScheduledAt, ExpiresAt: stored.ExpiresAt}
		if err := spec.Normalize(broadcast.Rules{Now: fuzzNow}, stored.Status == broadcast.StatusDraft); err != nil {
			t.Fatalf("the stored broadcast fails validation: %v\n%+v", err, stored)
		}
		wantStarted := 0
		if stored.Status == broadcast.StatusScheduled {
			wantStarted = 1
		}
		if len(started) != wantStarted || (wantStarted == 1 && started[0] != stored.ID) {
			t.Fatalf("a %s broadcast started workflows %v", stored.Status, started)
		}
	})
}

// rescheduleCases are the broadcasts FuzzRescheduleRequest changes: each
// status, and drafts with none, one or both times.
func rescheduleCases() []broadcast.Broadcast {
	at := func(d time.Duration) *time.Time { t := fuzzNow.Add(d); return &t }
	base := broadcast.Broadcast{ID: fuzzBroadcastID, Sender: broadcast.Sender{ID: "admin-1", Name: "Ada Admin"},
		Title: "Maintenance", Content: "The portal is down.", Category: "general", Priority: broadcast.PriorityNormal,
		Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}}, CreatedAt: fuzzNow, UpdatedAt: fuzzNow,
		WorkflowID: broadcast.WorkflowID(fuzzBroadcastID)}
	with := func(status broadcast.Status, scheduled, expires *time.Time) broadcast.Broadcast {
		b := base
		b.Status, b.ScheduledAt, b.ExpiresAt = status, scheduled, expires
		if status.Published() || status == broadcast.StatusExpired {
			b.PublishedAt = scheduled
		}
		return b
	}
	hour, month := time.Hour, 30*24*time.Hour
	return []broadcast.Broadcast{
		with(broadcast.StatusScheduled, at(hour), at(hour+month)),
		with(broadcast.StatusSent, at(-hour), at(month)),
		with(broadcast.StatusDraft, nil, nil),
		with(broadcast.StatusDraft, at(hour), nil),
		with(broadcast.StatusDraft, nil, at(2*hour)),
		with(broadcast.StatusDraft, at(hour), at(hour+month)),
		with(broadcast.StatusSent, at(-time.Second), at(month)),
		with(broadcast.StatusExpired, at(-2*month), at(-month)),
		with(broadcast.StatusCancelled, at(hour), at(hour+month)),
		with(broadcast.StatusFailed, at(-hour), at(month)),
	}
}

// FuzzRescheduleRequest posts arbitrary bodies to POST
// /api/v1/broadcasts/{id}/reschedule of a broadcast in a fuzzed status. An
// accepted change is one validation accepts again, in UTC, leaving
// expires_at after scheduled_at.
func FuzzRescheduleRequest(f *testing.F) {
	fa := newFuzzAPI(f)
	cases := rescheduleCases()
	target := "/api/v1/broadcasts/" + fuzzBroadcastID.String() + "/reschedule"
	f.Fuzz(func(t *testing.T, body []byte, which uint8, contentType uint8) {
		current := cases[int(which)%len(cases)]
		fa.store.reset(current)
		fa.wf.reset()
		rec := fa.post(target, body, contentTypes[int(contentType)%len(contentTypes)])
		_, changes := fa.wf.calls()
		after, _ := fa.store.Get(context.Background(), current.ID)
		if !fa.requireNo5xx(t, rec) {
			if fa.store.draftChanges != 0 || len(changes) != 0 {
				t.Fatalf("a refused reschedule changed the broadcast: %+v", after)
			}
			return
		}
		if current.Status.Terminal() {
			t.Fatalf("a %s broadcast was rescheduled", current.Status)
		}
		answer := decodeAnswer(t, rec)
		if !timesEqual(answer.ScheduledAt, after.ScheduledAt) || !timesEqual(answer.ExpiresAt, after.ExpiresAt) || answer.Status != after.Status {
			t.Fatalf("the answer %+v is not the stored broadcast %+v", answer, after)
		}
		var change broadcast.Change
		if current.Status == broadcast.StatusDraft {
			if len(changes) != 0 || fa.store.draftChanges != 1 {
				t.Fatalf("a draft's reschedule went to its workflow (%d) or not to the store (%d)", len(changes), fa.store.draftChanges)
			}
			change = fa.store.draftChange
		} else {
			if len(changes) != 1 {
				t.Fatalf("a %s broadcast's reschedule made %d workflow calls", current.Status, len(changes))
			}
			change = changes[0].Change
			if change.ScheduledAt != nil && current.Status.Published() {
				t.Fatalf("a %s broadcast got a new scheduled_at", current.Status)
			}
		}
		if change.ScheduledAt == nil && change.ExpiresAt == nil {
			t.Fatal("an empty change was accepted")
		}
		for _, at := range []*time.Time{change.ScheduledAt, change.ExpiresAt} {
			if at != nil && at.Location() != time.UTC {
				t.Fatalf("the change holds a time in %v, want UTC", at.Location())
			}
		}
		if change.ScheduledAt != nil && change.ScheduledAt.Before(fuzzNow) {
			t.Fatalf("scheduled_at %v is in the past", change.ScheduledAt)
		}
		if after.ScheduledAt != nil && after.ExpiresAt != nil && !after.ExpiresAt.After(*after.ScheduledAt) {
			t.Fatalf("the broadcast now expires at %v, not after %v", after.ExpiresAt, after.ScheduledAt)
		}
		if err := change.Normalize(broadcast.Rules{Now: fuzzNow}, current); err != nil {
			t.Fatalf("the accepted change fails validation: %v", err)
		}
	})
}

func timesEqual(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

// FuzzStreamTicket opens GET /api/v1/me/stream with an arbitrary query: as
// ?ticket=<escaped input>, or the input as the raw query string. The ticket
// the API redeems is exactly the query's ticket parameter; any ticket but the
// one known is a 401 problem, and nothing is a 5xx.
func FuzzStreamTicket(f *testing.F) {
	fa := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, input string, raw bool) {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/me/stream", nil)
		if raw {
			req.URL.RawQuery = input
		} else {
			req.URL.RawQuery = "ticket=" + url.QueryEscape(input)
		}
		ticket := req.URL.Query().Get("ticket")
		rec := fa.serve(req)
		redeemed := fa.tickets.take()
		ok := fa.requireNo5xx(t, rec)
		switch {
		case ticket == "":
			if len(redeemed) != 0 || ok || rec.Code != http.StatusUnauthorized {
				t.Fatalf("no ticket and no token: redeemed %q, answered %d", redeemed, rec.Code)
			}
		case len(redeemed) != 1 || redeemed[0] != ticket:
			t.Fatalf("query %q: redeemed %q, want %q", req.URL.RawQuery, redeemed, ticket)
		case ticket == goodTicket:
			if !ok {
				t.Fatalf("the known ticket was refused: %d %s", rec.Code, rec.Body)
			}
		case rec.Code != http.StatusUnauthorized:
			t.Fatalf("ticket %q answered %d, want 401", ticket, rec.Code)
		}
	})
}
