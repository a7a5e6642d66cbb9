package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/crier/crier/internal/testenv"
)

// span is what the test receiver keeps of an exported span.
type span struct {
	Name, TraceID, SpanID, ParentID, Service string
}

// otlpReceiver is an OTLP/HTTP trace receiver for tests: it accepts the
// protobuf export requests Crier's exporter sends and keeps their spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []span
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil || req.URL.Path != "/v1/traces" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var export collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &export); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range export.ResourceSpans {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, span{Name: s.Name, TraceID: hex.EncodeToString(s.TraceId),
					SpanID: hex.EncodeToString(s.SpanId), ParentID: hex.EncodeToString(s.ParentSpanId), Service: service})
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(nil)
}

func (r *otlpReceiver) snapshot() []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]span(nil), r.spans...)
}

// TestOneTraceFromAPICallToStreamWrite: with OTLP export on, one broadcast
// is one trace: the API call, the workflow start, the workflow and its
// publish activity, the Kafka write, and the write to the user's stream.
func TestOneTraceFromAPICallToStreamWrite(t *testing.T) {
	receiver := &otlpReceiver{}
	srv := httptest.NewServer(receiver)
	defer srv.Close()
	s := newStack(t)
	for k, v := range map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_SERVICE_NAME": "crier-trace-test",
	} {
		s.env[k] = v
	}
	n := s.start(t, "all", "node-trace")
	p := tokens(t)
	alice := openStream(t, t, "alice", n.baseURL, p.alice, "")
	b := createOn(t, n, p.admin, roleBroadcast("traced", "ops", 0, time.Hour))
	alice.expect(t, "broadcast", b.ID)

	// The workflow's own span (RunWorkflow) ends with the workflow, at
	// expiry; the publish activity inside it is exported at once.
	want := []string{"POST /api/v1/broadcasts", "StartWorkflow:Broadcast", "StartActivity:Publish", "RunActivity:Publish",
		"kafka.produce BROADCAST_PUBLISHED", "sse.write broadcast"}
	var trace []span
	testenv.Eventually(t, 20*time.Second, func() error {
		trace = traceOf(receiver.snapshot(), "POST /api/v1/broadcasts")
		if missing := missingSpans(trace, want); len(missing) > 0 {
			return fmt.Errorf("the broadcast's trace lacks %v; it has %v", missing, names(trace))
		}
		return nil
	})
	t.Logf("one trace, %d spans: %s", len(trace), strings.Join(names(trace), " → "))
}

// traceOf returns every span of the trace that holds a span named root.
func traceOf(spans []span, root string) []span {
	id := ""
	for _, s := range spans {
		if s.Name == root {
			id = s.TraceID
		}
	}
	var out []span
	for _, s := range spans {
		if id != "" && s.TraceID == id {
			out = append(out, s)
		}
	}
	return out
}

func missingSpans(trace []span, want []string) []string {
	var missing []string
	for _, w := range want {
		found := false
		for _, s := range trace {
			found = found || strings.HasPrefix(s.Name, w)
		}
		if !found {
			missing = append(missing, w)
		}
	}
	return missing
}

func names(spans []span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}
