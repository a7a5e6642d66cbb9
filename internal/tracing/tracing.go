package tracing

import (
	"context"
	"fmt"
	"os"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracer returns Crier's tracer from the current global provider. It is
// looked up on each use, not kept: OpenTelemetry's global delegates a tracer
// taken before SetTracerProvider to the first provider only, so a kept one
// would stay on a stopped provider when run starts again in one process (as
// the end-to-end tests do).
func Tracer() trace.Tracer { return otel.Tracer("github.com/crier/crier") }

var propagator = propagation.TraceContext{}

// Enabled reports whether the OTEL_* variables ask for traces: an OTLP
// endpoint, or OTEL_TRACES_EXPORTER=otlp. OTEL_SDK_DISABLED=true wins.
func Enabled() bool {
	if os.Getenv("OTEL_SDK_DISABLED") == "true" {
		return false
	}
	return os.Getenv("OTEL_TRACES_EXPORTER") == "otlp" ||
		os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs the global tracer provider when Enabled, exporting over
// OTLP/HTTP as the OTEL_* variables say (endpoint, headers, sampler, batch
// delay). service names the process (OTEL_SERVICE_NAME wins). It returns a
// function that flushes and stops the exporter.
func Setup(ctx context.Context, service string) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagator)
	if !Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	if name := os.Getenv("OTEL_SERVICE_NAME"); name != "" {
		service = name
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", service)))
	if err != nil {
		return nil, err
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(provider)
	return provider.Shutdown, nil
}

// TraceParent is the W3C traceparent of ctx's span, empty when there is
// none: what the outbox stores beside an event.
func TraceParent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	propagator.Inject(ctx, carrier)
	return carrier["traceparent"]
}

// FromTraceParent returns a context whose remote parent is traceparent.
func FromTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// InjectKafka adds ctx's trace to a message's headers.
func InjectKafka(ctx context.Context, headers []kafka.Header) []kafka.Header {
	if tp := TraceParent(ctx); tp != "" {
		headers = append(headers, kafka.Header{Key: "traceparent", Value: []byte(tp)})
	}
	return headers
}

// FromKafka returns the span context a message carries in its headers.
func FromKafka(headers []kafka.Header) trace.SpanContext {
	for _, h := range headers {
		if h.Key == "traceparent" {
			return trace.SpanContextFromContext(FromTraceParent(context.Background(), string(h.Value)))
		}
	}
	return trace.SpanContext{}
}
