package tracing

import (
	"fmt"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// HTTP is Echo middleware that continues the caller's trace (traceparent
// header) and records one server span per request, named by route template.
func HTTP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		ctx := propagator.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		ctx, span := Tracer().Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("http.route", route)))
		defer span.End()
		c.SetRequest(req.WithContext(ctx))
		err := next(c)
		status := c.Response().Status
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if err != nil || status >= 500 {
			span.SetStatus(codes.Error, fmt.Sprint(err))
		}
		return err
	}
}
