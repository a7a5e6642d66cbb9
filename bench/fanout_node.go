package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// fanoutNode is the `crier all` the fan-out connects to: StartCrier's child
// with the settings this scenario changes, and its address and process id,
// which the scenario needs and StartCrier does not return.
type fanoutNode struct {
	*Node
	addr, topic string
}

// fanoutSettings are the node's settings besides StartCrier's. Only the
// per-address request limit changes: the 10,000 clients come from a handful
// of loopback addresses, and 50 requests/s per address (the default) would
// refuse most of them. Each client is its own user, opening one stream, so
// the per-user limits (5 streams, 10 connects at once) are left as they are.
func fanoutSettings(secret string) []string {
	return []string{"CRIER_JWT_SECRET=" + secret, "CRIER_RATE_PER_ADDRESS=100000:100000", "CRIER_NODE_ID=crierbench-fanout"}
}

func startFanoutNode(ctx context.Context, env Env, dbURL, topic, secret string, log io.Writer) (*fanoutNode, error) {
	n, err := StartNode(ctx, NodeConfig{Binary: env.CrierBinary, DatabaseURL: dbURL, Brokers: env.Brokers,
		TemporalAddress: env.TemporalAddress, Topic: topic, TaskQueue: topic, Env: fanoutSettings(secret), Log: log})
	if err != nil {
		return nil, err
	}
	return &fanoutNode{Node: n, addr: strings.TrimPrefix(n.URL, "http://"), topic: topic}, nil
}

// nodeMemory is what the node's memory is made of at one moment: its
// resident set from the kernel, and the Go runtime's own account from its
// /metrics.
type nodeMemory struct {
	rss, heapInuse, stackInuse float64 // bytes
	goroutines, streams        float64
}

// memory reads the node's VmRSS and its runtime metrics.
func (n *fanoutNode) memory(ctx context.Context) (nodeMemory, error) {
	var m nodeMemory
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.PID()))
	if err != nil {
		return m, fmt.Errorf("read crier's memory: %w", err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return m, fmt.Errorf("read crier's VmRSS %q: %w", rest, err)
			}
			m.rss = kb * 1024
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.addr+"/metrics", nil)
	if err != nil {
		return m, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, fmt.Errorf("read crier's metrics: %w", err)
	}
	defer resp.Body.Close()
	want := map[string]*float64{
		"go_memstats_heap_inuse_bytes": &m.heapInuse, "go_memstats_stack_inuse_bytes": &m.stackInuse,
		"go_goroutines": &m.goroutines, "crier_sse_connections": &m.streams,
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if p := want[name]; ok && p != nil {
			*p, _ = strconv.ParseFloat(value, 64)
		}
	}
	return m, sc.Err()
}

// fanoutMemory is the node's memory before and after the clients connected.
type fanoutMemory struct {
	before, after nodeMemory
	conns         int
	connectTook   time.Duration
}

// perConn is the growth from before to after, per connection.
func (m fanoutMemory) perConn() nodeMemory {
	n := float64(max(m.conns, 1))
	return nodeMemory{
		rss: (m.after.rss - m.before.rss) / n, heapInuse: (m.after.heapInuse - m.before.heapInuse) / n,
		stackInuse: (m.after.stackInuse - m.before.stackInuse) / n,
		goroutines: (m.after.goroutines - m.before.goroutines) / n,
	}
}

// fmtBytes shows a size in B, KiB, MiB or GiB, to three significant figures
// (or whole units from 100 up).
func fmtBytes(b float64) string {
	unit := "B"
	for _, u := range []string{"KiB", "MiB", "GiB"} {
		if math.Abs(b) < 1024 {
			break
		}
		b, unit = b/1024, u
	}
	if math.Abs(b) >= 100 || unit == "B" {
		return fmt.Sprintf("%.0f %s", b, unit)
	}
	return fmt.Sprintf("%.3g %s", b, unit)
}

// cpuTime is the CPU time (user and system) the node has used so far.
func (n *fanoutNode) cpuTime() time.Duration {
	used, _ := processCPU(n.PID())
	return used
}

// publish creates an ALL broadcast to send now through the API, as an admin
// would, and returns its id.
func (n *fanoutNode) publish(ctx context.Context, token, title string) (uuid.UUID, error) {
	body, _ := json.Marshal(map[string]any{"title": title, "content": "Fan-out benchmark broadcast.",
		"target": map[string]string{"type": "ALL"}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+n.addr+"/api/v1/broadcasts", bytes.NewReader(body))
	if err != nil {
		return uuid.Nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return uuid.Nil, fmt.Errorf("create broadcast: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		return uuid.Nil, fmt.Errorf("create broadcast: %s: %s", resp.Status, bytes.TrimSpace(raw))
	}
	var created struct {
		ID uuid.UUID `json:"id"`
	}
	if err := json.Unmarshal(raw, &created); err != nil || created.ID == uuid.Nil {
		return uuid.Nil, errors.New("create broadcast: the answer has no id")
	}
	return created.ID, nil
}
