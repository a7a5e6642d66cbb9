package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Publication.
var (
	// PublicationLateness is the time a BROADCAST_PUBLISHED event reached
	// Kafka minus the broadcast's scheduled_at: how late users could see it.
	PublicationLateness = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "crier_publication_lateness_seconds",
		Help:    "Time a BROADCAST_PUBLISHED event reached Kafka minus the broadcast's scheduled_at.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
	})
	// RelayEvents counts events the relay wrote to Kafka.
	RelayEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crier_relay_events_total",
		Help: "Lifecycle events the outbox relay wrote to Kafka, by event type.",
	}, []string{"event_type"})
	// RelayErrors counts events Kafka did not take: transient ones stay
	// pending and are retried, permanent ones fail their broadcast.
	RelayErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crier_relay_errors_total",
		Help: "Events Kafka did not take, by kind: transient (retried) or permanent (broadcast FAILED).",
	}, []string{"kind"})
)

// Due dispatch (internal/due).
var (
	// DueApplied counts the publications and expiries a worker's due
	// dispatcher applied at their instant (the rest, their workflows).
	DueApplied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crier_due_applied_total",
		Help: "Publications and expiries applied by a worker's due dispatcher at their instant, by transition (publish, expire).",
	}, []string{"transition"})
	// DueLateness is how long after its instant a dispatcher's change
	// committed.
	DueLateness = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "crier_due_lateness_seconds",
		Help:    "Time a due dispatcher's publication or expiry committed minus its scheduled_at or expires_at, by transition.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"transition"})
)

// Delivery.
var (
	// ConsumerLag is how many messages a consumer is behind the end of the
	// topic, summed over partitions.
	ConsumerLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "crier_consumer_lag",
		Help: "Messages behind the end of the broadcast topic, by consumer (crier-audience, stream-tail).",
	}, []string{"group"})
	// SSEConnections is the number of open event streams on this node.
	SSEConnections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "crier_sse_connections",
		Help: "Open event streams on this node.",
	})
	// SSEEventsSent counts events written to streams, by event name.
	SSEEventsSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crier_sse_events_sent_total",
		Help: "Events written to event streams, by event (broadcast, retract, read, shutdown).",
	}, []string{"event"})
	// SSESlowClientsDropped counts streams ended because their client fell
	// too far behind.
	SSESlowClientsDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crier_sse_slow_clients_dropped_total",
		Help: "Event streams ended because the client stopped reading (it resumes on reconnect).",
	})
)

// HTTP.
var (
	// HTTPRequests counts answered requests by route template, method and
	// status code, each from a fixed set (see HTTP).
	HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crier_http_requests_total",
		Help: "HTTP requests answered, by route template (or unmatched), method (or other) and status code (or class).",
	}, []string{"route", "method", "status"})
	// HTTPDuration is the time to answer, by route template and method.
	// Event streams are left out: they last as long as the client stays.
	HTTPDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "crier_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests (event streams excluded), by route template (or unmatched) and method (or other).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method"})
)

// NewRegistry returns a registry with Crier's metrics and the Go runtime's
// and process's own.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		PublicationLateness, RelayEvents, RelayErrors, DueApplied, DueLateness,
		ConsumerLag, SSEConnections, SSEEventsSent, SSESlowClientsDropped,
		HTTPRequests, HTTPDuration, DeadLetters,
		RetentionDeleted,
	)
	// Both kinds exist from the start, so dashboards show 0, not nothing.
	RelayErrors.WithLabelValues("transient")
	RelayErrors.WithLabelValues("permanent")
	for _, transition := range []string{"publish", "expire"} {
		DueApplied.WithLabelValues(transition)
	}
	return r
}

// Dead letters.
var (
	// DeadLetters counts messages a consumer wrote to the dead-letter topic,
	// by consumer and reason (deadletter.Reasons). Every API node's stream
	// tail reads every message, so one poison message counts once per node
	// in stream-tail.
	DeadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crier_dead_letters_total",
		Help: "Messages a consumer could not process and wrote to the dead-letter topic, by consumer and reason.",
	}, []string{"consumer", "reason"})
)
