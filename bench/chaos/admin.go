package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crier/crier/bench"
	"github.com/crier/crier/internal/broadcast"
)

// admin calls the admin API as an operator's script would: on the first
// API node still running, with the admin's bearer token.
type admin struct {
	nodes []*bench.Node
	token string
	http  *http.Client
}

// Bounds of a call's answer. A change (cancel, reschedule) is a Temporal
// update, answered once the workflow applies it; a workflow whose task a
// dead worker held applies it once that task has timed out (10 s), and the
// API answers 503 after workflows.UpdateWait (20 s) at worst.
const (
	callTimeout   = 15 * time.Second
	changeTimeout = 3 * time.Minute
)

func newAdmin(nodes []*bench.Node, token string) *admin {
	return &admin{nodes: nodes, token: token, http: &http.Client{}}
}

// call sends one request and decodes a 2xx answer into out; it returns the
// status. Only a node that is gone (not running, or refusing connections)
// is skipped for the next: a request that reached a node and got no answer
// may have been carried out, so it is not sent again; an answer, whatever
// its status, is the answer.
func (a *admin) call(ctx context.Context, token, method, path string, body, out any) (int, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return 0, err
		}
	}
	timeout := callTimeout
	if strings.HasSuffix(path, "/cancel") || strings.HasSuffix(path, "/reschedule") {
		timeout = changeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for _, n := range a.nodes {
		if !n.Running() {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, method, n.URL+"/api/v1"+path, bytes.NewReader(raw))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := a.http.Do(req)
		var dial *net.OpError
		if errors.As(err, &dial) && dial.Op == "dial" {
			lastErr = err
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", method, path, err)
		}
		answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
		}
		if resp.StatusCode/100 == 2 && out != nil {
			if err := json.Unmarshal(answer, out); err != nil {
				return resp.StatusCode, fmt.Errorf("%s %s: %w (%.200s)", method, path, err, answer)
			}
		}
		return resp.StatusCode, nil
	}
	return 0, fmt.Errorf("%s %s: no API node answered: %w", method, path, lastErr)
}

// create creates p as its plan says: scheduled at p.Due, or sent now when
// Due is zero. It sets p.ID.
func (a *admin) create(ctx context.Context, p *planned) (int, error) {
	body := map[string]any{"title": p.Title, "content": "make chaos: " + p.Title, "category": "chaos",
		"priority": broadcast.PriorityNormal, "target": p.Target, "expires_at": p.Expires.UTC().Format(time.RFC3339Nano)}
	if !p.Due.IsZero() {
		body["scheduled_at"] = p.Due.UTC().Format(time.RFC3339Nano)
	}
	var created struct {
		ID          uuid.UUID  `json:"id"`
		ScheduledAt *time.Time `json:"scheduled_at"`
	}
	status, err := a.call(ctx, a.token, http.MethodPost, "/broadcasts", body, &created)
	if err == nil && status == http.StatusCreated {
		p.ID = created.ID
		if created.ScheduledAt != nil {
			p.Due = *created.ScheduledAt // a send-now's is the time it was accepted
		}
	}
	return status, err
}

// cancel cancels p and records the answer: 200 cancelled it, a 4xx
// refused it, and no answer or a 5xx leaves it uncertain.
func (a *admin) cancel(ctx context.Context, p *planned) error {
	status, err := a.call(ctx, a.token, http.MethodPost, "/broadcasts/"+p.ID.String()+"/cancel", nil, nil)
	switch {
	case err != nil:
		p.Refused, p.Uncertain = err.Error(), true
	case status == http.StatusOK:
		p.Cancelled = true
	default:
		p.Refused, p.Uncertain = fmt.Sprintf("cancel answered %d", status), status >= 500
	}
	return err
}

// reschedule moves p to at and records the answer.
func (a *admin) reschedule(ctx context.Context, p *planned, at time.Time) error {
	status, err := a.call(ctx, a.token, http.MethodPost, "/broadcasts/"+p.ID.String()+"/reschedule",
		map[string]string{"scheduled_at": at.UTC().Format(time.RFC3339Nano)}, nil)
	switch {
	case err != nil:
		p.Refused = err.Error()
	case status == http.StatusOK:
		p.Due = at
	default:
		p.Refused = fmt.Sprintf("reschedule answered %d", status)
	}
	return err
}
