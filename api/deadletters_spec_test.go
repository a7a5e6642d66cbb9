package api_test

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/deadletter"
)

// The dead letters behind TestOpenAPIResponsesConform: a pending one, one
// whose redrive resolved it, and one Kafka refuses to redrive.
var (
	specPendingLetter  = uuid.MustParse("0195f4a0-0000-7000-8000-0000000000d1")
	specResolvedLetter = uuid.MustParse("0195f4a0-0000-7000-8000-0000000000d2")
	specKafkaDown      = uuid.MustParse("0195f4a0-0000-7000-8000-0000000000d3")
)

// specDeadLetters answers as deadletter.Store does, errors included.
type specDeadLetters struct {
	mu   sync.Mutex
	byID map[uuid.UUID]deadletter.Letter
}

func newSpecDeadLetters(now time.Time) *specDeadLetters {
	mk := func(id uuid.UUID, consumer string, status deadletter.Status, offset int64) deadletter.Letter {
		return deadletter.Letter{ID: id, Consumer: consumer, Status: status, Topic: "broadcast_messages", Partition: 2, Offset: offset,
			Reason: deadletter.ReasonUndecodable, Error: "the value is not a broadcast event: invalid character 'o' in literal null",
			Attempts: 3, CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour), FailedAt: now.Add(-time.Hour)}
	}
	resolved := mk(specResolvedLetter, "stream-tail", deadletter.StatusResolved, 8)
	resolved.Redrives, resolved.ResolvedAt = 1, &now
	d := &specDeadLetters{byID: map[uuid.UUID]deadletter.Letter{}}
	for _, l := range []deadletter.Letter{mk(specPendingLetter, "audience", deadletter.StatusPending, 7), resolved,
		mk(specKafkaDown, "audience", deadletter.StatusFailed, 9)} {
		d.byID[l.ID] = l
	}
	return d
}

func (d *specDeadLetters) List(_ context.Context, f deadletter.Filter) ([]deadletter.Letter, string, error) {
	switch f.Cursor {
	case "":
	case "next":
		return nil, "", nil
	default:
		return nil, "", deadletter.ErrBadCursor
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var page []deadletter.Letter
	for _, l := range d.byID {
		if f.Consumer == "" || f.Consumer == l.Consumer {
			page = append(page, l)
		}
	}
	return page, "next", nil
}

func (d *specDeadLetters) Get(_ context.Context, id uuid.UUID) (deadletter.Letter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.byID[id]
	if !ok {
		return l, deadletter.ErrNotFound
	}
	l.Message = &deadletter.Message{Encoding: "utf-8", Key: "019ac8a4-1f7e-7c3a-9d5e-2a1b3c4d5e6f", Value: "not JSON",
		Headers: []deadletter.Header{{Key: "event_id", Value: "8b0f6c1e-5d0a-4c47-9a43-0f2b6a4d2f51"}}}
	return l, nil
}

// change applies to as Store does: from PENDING or FAILED only.
func (d *specDeadLetters) change(id uuid.UUID, to deadletter.Status) (deadletter.Letter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.byID[id]
	switch {
	case !ok:
		return l, deadletter.ErrNotFound
	case l.Status == deadletter.StatusDropped && to == deadletter.StatusDropped:
		return l, nil
	case l.Status != deadletter.StatusPending && l.Status != deadletter.StatusFailed:
		return l, deadletter.ErrConflict
	case id == specKafkaDown && to == deadletter.StatusRedriving:
		return deadletter.Letter{}, deadletter.ErrUnavailable
	}
	now := time.Now().UTC()
	l.Status, l.UpdatedAt = to, now
	if to == deadletter.StatusDropped {
		l.DroppedAt = &now
	} else {
		l.Redrives++
	}
	d.byID[id] = l
	return l, nil
}

func (d *specDeadLetters) Redrive(_ context.Context, _ audit.Origin, id uuid.UUID) (deadletter.Letter, error) {
	return d.change(id, deadletter.StatusRedriving)
}

func (d *specDeadLetters) Drop(_ context.Context, _ audit.Origin, id uuid.UUID) (deadletter.Letter, error) {
	return d.change(id, deadletter.StatusDropped)
}

// deadLetterCases read, redrive and drop the dead letters of specDeadLetters.
func (env *conformEnv) deadLetterCases() []conformCase {
	dl := func(id uuid.UUID) string { return "/api/v1/dead-letters/" + id.String() }
	return []conformCase{
		{"dead letters", nil, "GET", "/api/v1/dead-letters?consumer=audience&status=pending,FAILED&limit=100", "", nil, env.admin, 200, validRequest},
		{"dead letters last page", nil, "GET", "/api/v1/dead-letters?cursor=next", "", nil, env.admin, 200, validRequest},
		{"dead letters bad status", nil, "GET", "/api/v1/dead-letters?status=LOST", "", nil, env.admin, 400, validRequest},
		{"dead letters bad limit", nil, "GET", "/api/v1/dead-letters?limit=101", "", nil, env.admin, 400, invalidRequest},
		{"dead letters bad cursor", nil, "GET", "/api/v1/dead-letters?cursor=bad", "", nil, env.admin, 400, validRequest},
		{"dead letters as broadcaster", nil, "GET", "/api/v1/dead-letters", "", nil, env.alice, 403, validRequest},
		{"dead letter", nil, "GET", dl(specPendingLetter), "", nil, env.admin, 200, validRequest},
		{"dead letter unknown", nil, "GET", dl(uuid.New()), "", nil, env.admin, 404, validRequest},
		{"dead letter malformed id", nil, "GET", "/api/v1/dead-letters/nope", "", nil, env.admin, 404, anyRequest},
		{"redrive", nil, "POST", dl(specPendingLetter) + "/redrive", "", nil, env.admin, 202, validRequest},
		{"redrive again", nil, "POST", dl(specPendingLetter) + "/redrive", "", nil, env.admin, 409, validRequest},
		{"redrive kafka down", nil, "POST", dl(specKafkaDown) + "/redrive", "", nil, env.admin, 503, validRequest},
		{"redrive unknown", nil, "POST", dl(uuid.New()) + "/redrive", "", nil, env.admin, 404, validRequest},
		{"drop resolved", nil, "DELETE", dl(specResolvedLetter), "", nil, env.admin, 409, validRequest},
		{"drop", nil, "DELETE", dl(specKafkaDown), "", nil, env.admin, 200, validRequest},
		{"drop again", nil, "DELETE", dl(specKafkaDown), "", nil, env.admin, 200, validRequest},
		{"drop unknown", nil, "DELETE", dl(uuid.New()), "", nil, env.admin, 404, validRequest},
	}
}
