package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"

	"github.com/crier/crier/api"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/workflows"
)

// In-memory fakes of the API's dependencies for the fuzz targets: fast,
// deterministic, and as strict as PostgreSQL about what they store.

// memStore is an in-memory api.Store. It keeps what PostgreSQL would refuse
// refused: text with NUL bytes or invalid UTF-8, and expires_at not after
// scheduled_at once both are cut to PostgreSQL's microseconds (pgx truncates
// them). Such a refusal is an internal error, so a request that reaches it
// answers 500 and the fuzz target reports it.
type memStore struct {
	mu         sync.Mutex
	broadcasts map[uuid.UUID]broadcast.Broadcast
	hashes     map[uuid.UUID][]byte
	// inserts and draftChanges count the calls that changed something;
	// draftChange is the last change RescheduleDraft was asked for.
	inserts, draftChanges int
	draftChange           broadcast.Change
}

func newMemStore() *memStore {
	return &memStore{broadcasts: map[uuid.UUID]broadcast.Broadcast{}, hashes: map[uuid.UUID][]byte{}}
}

// reset empties the store and puts bs in it.
func (m *memStore) reset(bs ...broadcast.Broadcast) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.broadcasts)
	clear(m.hashes)
	m.inserts, m.draftChanges, m.draftChange = 0, 0, broadcast.Change{}
	for _, b := range bs {
		m.broadcasts[b.ID] = b
	}
}

func (m *memStore) only() (broadcast.Broadcast, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.broadcasts {
		return b, len(m.broadcasts) == 1
	}
	return broadcast.Broadcast{}, false
}

// pgText refuses what a PostgreSQL text column refuses.
func pgText(column, s string) error {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return &pgconn.PgError{Severity: "ERROR", Code: "22021", Message: `invalid byte sequence for encoding "UTF8": 0x00`, ColumnName: column}
	case !utf8.ValidString(s):
		return &pgconn.PgError{Severity: "ERROR", Code: "22021", Message: `invalid byte sequence for encoding "UTF8"`, ColumnName: column}
	}
	return nil
}

// pgTime is a time as PostgreSQL stores it: pgx sends whole microseconds.
func pgTime(at *time.Time) *time.Time {
	if at == nil {
		return nil
	}
	t := at.Truncate(time.Microsecond).UTC()
	return &t
}

// pgRow checks b against the broadcasts table's types and constraints and
// returns it as a SELECT would read it back.
func pgRow(b broadcast.Broadcast) (broadcast.Broadcast, error) {
	texts := []struct{ column, value string }{{"sender_id", b.Sender.ID}, {"sender_name", b.Sender.Name}, {"title", b.Title},
		{"content", b.Content}, {"category", b.Category}, {"workflow_id", b.WorkflowID}}
	for _, id := range b.Target.IDs {
		texts = append(texts, struct{ column, value string }{"target_ids", id})
	}
	for _, tx := range texts {
		if err := pgText(tx.column, tx.value); err != nil {
			return b, err
		}
	}
	b.ScheduledAt, b.ExpiresAt = pgTime(b.ScheduledAt), pgTime(b.ExpiresAt)
	if b.ScheduledAt != nil && b.ExpiresAt != nil && !b.ExpiresAt.After(*b.ScheduledAt) {
		return b, &pgconn.PgError{Severity: "ERROR", Code: "23514", Message: `new row for relation "broadcasts" violates check constraint "broadcasts_expiry_after_schedule"`}
	}
	if b.Status != broadcast.StatusDraft && b.Status != broadcast.StatusCancelled && (b.ScheduledAt == nil || b.ExpiresAt == nil) {
		return b, &pgconn.PgError{Severity: "ERROR", Code: "23514", Message: `new row for relation "broadcasts" violates check constraint "broadcasts_times_set"`}
	}
	if b.Target.IDs == nil {
		b.Target.IDs = []string{}
	}
	return b, nil
}

// AudienceZones knows no user's zone: every recipient is in the default's.
func (m *memStore) AudienceZones(context.Context, broadcast.Target) ([]string, error) {
	return nil, nil
}

func (m *memStore) Insert(ctx context.Context, _ audit.Origin, b broadcast.Broadcast, requestHash []byte,
	beforeCommit func(context.Context, broadcast.Broadcast) error) (broadcast.Broadcast, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if stored, ok := m.broadcasts[b.ID]; ok {
		if !bytes.Equal(m.hashes[b.ID], requestHash) {
			return stored, false, store.ErrIdempotencyMismatch
		}
		return stored, false, nil
	}
	row, err := pgRow(b)
	if err != nil {
		return broadcast.Broadcast{}, false, fmt.Errorf("insert broadcast %s: %w", b.ID, err)
	}
	row.CreatedAt, row.UpdatedAt = fuzzNow, fuzzNow
	if beforeCommit != nil && row.Status == broadcast.StatusScheduled {
		if err := beforeCommit(ctx, row); err != nil {
			return broadcast.Broadcast{}, false, err
		}
	}
	m.broadcasts[b.ID], m.hashes[b.ID] = row, requestHash
	m.inserts++
	return row, true, nil
}

func (m *memStore) Get(_ context.Context, id uuid.UUID) (broadcast.Broadcast, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.broadcasts[id]
	if !ok {
		return b, store.ErrNotFound
	}
	return b, nil
}

var errNotFuzzed = errors.New("memStore: not used by the fuzz targets")

func (m *memStore) List(context.Context, store.ListParams) ([]broadcast.Broadcast, string, error) {
	return nil, "", errNotFuzzed
}

func (m *memStore) Cancel(context.Context, audit.Origin, uuid.UUID) (store.Result, error) {
	return store.Result{}, errNotFuzzed
}

func (m *memStore) ScheduleDraft(context.Context, audit.Origin, uuid.UUID, time.Time, time.Time,
	func(context.Context, broadcast.Broadcast) error) (store.Result, error) {
	return store.Result{}, errNotFuzzed
}

// RescheduleDraft is the guarded UPDATE of the real store: a draft's times
// (nil keeps one), from the statuses broadcast.Transitions allows.
func (m *memStore) RescheduleDraft(_ context.Context, _ audit.Origin, id uuid.UUID, scheduledAt, expiresAt *time.Time) (store.Result, error) {
	m.mu.Lock()
	m.draftChange = broadcast.Change{ScheduledAt: scheduledAt, ExpiresAt: expiresAt}
	m.mu.Unlock()
	return m.change(broadcast.OpRescheduleDraft, id, scheduledAt, expiresAt)
}

// reschedule is what the workflow's activity does to a broadcast that is not
// a draft: a new scheduled_at, or a new expires_at alone, from the statuses
// broadcast.Transitions allows each from.
func (m *memStore) reschedule(id uuid.UUID, scheduledAt, expiresAt *time.Time) (store.Result, error) {
	op := broadcast.OpRescheduleExpiry
	if scheduledAt != nil {
		op = broadcast.OpReschedule
	}
	return m.change(op, id, scheduledAt, expiresAt)
}

func (m *memStore) change(op broadcast.Operation, id uuid.UUID, scheduledAt, expiresAt *time.Time) (store.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.broadcasts[id]
	if !ok {
		return store.Result{}, store.ErrNotFound
	}
	if !broadcast.Transitions.Allows(op, b.Status) {
		return store.Result{Broadcast: b}, nil
	}
	if scheduledAt != nil {
		b.ScheduledAt = scheduledAt
	}
	if expiresAt != nil {
		b.ExpiresAt = expiresAt
	}
	row, err := pgRow(b)
	if err != nil {
		return store.Result{}, fmt.Errorf("reschedule broadcast %s: %w", id, err)
	}
	m.broadcasts[id] = row
	m.draftChanges++
	return store.Result{Broadcast: row, Applied: true}, nil
}

// Retry is the real store's guarded retry: from the statuses
// broadcast.Transitions allows OpRetry from, to the status it leads to, with
// the new times and no failure reason, started by beforeCommit.
func (m *memStore) Retry(ctx context.Context, _ audit.Origin, id uuid.UUID, scheduledAt, expiresAt time.Time,
	beforeCommit func(context.Context, broadcast.Broadcast) error) (store.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.broadcasts[id]
	if !ok {
		return store.Result{}, store.ErrNotFound
	}
	if !broadcast.Transitions.Allows(broadcast.OpRetry, b.Status) {
		return store.Result{Broadcast: b}, nil
	}
	b.Status, b.FailureReason, b.ScheduledAt, b.ExpiresAt = broadcast.Transitions[broadcast.OpRetry].To, "", &scheduledAt, &expiresAt
	row, err := pgRow(b)
	if err != nil {
		return store.Result{}, fmt.Errorf("retry broadcast %s: %w", id, err)
	}
	if err := beforeCommit(ctx, row); err != nil {
		return store.Result{}, err
	}
	m.broadcasts[id] = row
	return store.Result{Broadcast: row, Applied: true}, nil
}

var _ api.Store = (*memStore)(nil)

// memWorkflows stands in for Temporal: Start records the broadcast, and
// Reschedule applies the change to the memStore as the workflow's activity
// would.
type memWorkflows struct {
	store *memStore

	mu      sync.Mutex
	started []uuid.UUID
	changes []workflows.RescheduleRequest
}

func (w *memWorkflows) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.started, w.changes = nil, nil
}

func (w *memWorkflows) calls() ([]uuid.UUID, []workflows.RescheduleRequest) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started, w.changes
}

func (w *memWorkflows) Start(_ context.Context, b broadcast.Broadcast) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.started = append(w.started, b.ID)
	return nil
}

func (w *memWorkflows) Cancel(context.Context, audit.Origin, uuid.UUID) (workflows.State, error) {
	return workflows.State{}, errNotFuzzed
}

// Restart records the broadcast, as Start does.
func (w *memWorkflows) Restart(ctx context.Context, b broadcast.Broadcast) error {
	return w.Start(ctx, b)
}

func (w *memWorkflows) Reschedule(_ context.Context, id uuid.UUID, req workflows.RescheduleRequest) (workflows.State, error) {
	w.mu.Lock()
	w.changes = append(w.changes, req)
	w.mu.Unlock()
	res, err := w.store.reschedule(id, req.ScheduledAt, req.ExpiresAt)
	if err != nil {
		return workflows.State{}, err
	}
	if !res.Applied {
		return workflows.State{}, fmt.Errorf("memWorkflows: reschedule of a %s broadcast", res.Broadcast.Status)
	}
	b := res.Broadcast
	return workflows.State{Status: b.Status, ScheduledAt: *b.ScheduledAt, ExpiresAt: *b.ExpiresAt}, nil
}

var _ api.Workflows = (*memWorkflows)(nil)

// memTickets knows goodTicket only; it records every ticket redeemed.
type memTickets struct {
	mu       sync.Mutex
	redeemed []string
}

func (m *memTickets) Issue(context.Context, *auth.Claims) (string, time.Duration, error) {
	return goodTicket, auth.TicketTTL, nil
}

func (m *memTickets) Redeem(_ context.Context, ticket string) (*auth.Claims, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.redeemed = append(m.redeemed, ticket)
	if ticket != goodTicket {
		return nil, auth.ErrBadTicket
	}
	return &auth.Claims{Roles: []string{"ops"}}, nil
}

func (m *memTickets) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.redeemed
	m.redeemed = nil
	return r
}

// memStreams answers every stream with an empty 200.
type memStreams struct{}

func (memStreams) Serve(_ context.Context, w http.ResponseWriter, _ inbox.User, _ string) error {
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.WriteHeader(http.StatusOK)
	return nil
}

// memInbox is empty.
type memInbox struct{}

func (memInbox) List(context.Context, inbox.User, inbox.ListParams) ([]inbox.Item, string, error) {
	return nil, "", nil
}

func (memInbox) MarkRead(context.Context, inbox.User, uuid.UUID) (inbox.Item, error) {
	return inbox.Item{}, inbox.ErrNotFound
}

func (memInbox) MarkAllRead(context.Context, inbox.User) (int, error) { return 0, nil }
