package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/series"
)

// Problem is an RFC 9457 problem detail, the body of every error answer.
type Problem struct {
	Type      string                 `json:"type"`
	Title     string                 `json:"title"`
	Status    int                    `json:"status"`
	Detail    string                 `json:"detail"`
	Instance  string                 `json:"instance,omitempty"`
	RequestID string                 `json:"request_id,omitempty"`
	Errors    []broadcast.FieldError `json:"errors,omitempty"`
	// MoreErrors counts the errors left out of Errors (see maxListedErrors).
	MoreErrors int `json:"more_errors,omitempty"`
	// Dependency names what was unavailable, on a 503: PostgreSQL,
	// Temporal or Kafka.
	Dependency string `json:"dependency,omitempty"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// StatusCode is the HTTP status the problem is answered with.
func (p *Problem) StatusCode() int { return p.Status }

func problem(status int, format string, args ...any) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: fmt.Sprintf(format, args...)}
}

// Bounds of a problem answer, so that none grows with its input: at most
// maxListedErrors field errors are listed (more_errors counts the rest), and
// each text is cut to its bound. An outside review got a 34.7 MB answer from
// 1 MiB of empty target ids. Quoted input is cut shorter still, by
// broadcast.Quote.
const (
	maxListedErrors  = 20
	maxDetailBytes   = 2048
	maxFieldBytes    = 128
	maxMessageBytes  = 512
	maxInstanceBytes = 256
)

func validationProblem(v *broadcast.ValidationError) *Problem {
	return fieldsProblem("the request is not valid", v.Errors)
}

// fieldsProblem is a 422 answer listing field errors: the detail names the
// first maxListedErrors; the error handler cuts the list to as many.
func fieldsProblem(what string, errs []broadcast.FieldError) *Problem {
	msgs := make([]string, 0, min(len(errs), maxListedErrors)+1)
	for _, e := range errs[:min(len(errs), maxListedErrors)] {
		msgs = append(msgs, e.Field+": "+e.Message)
	}
	if more := len(errs) - maxListedErrors; more > 0 {
		msgs = append(msgs, fmt.Sprintf("and %d more", more))
	}
	p := problem(http.StatusUnprocessableEntity, "%s: %s", what, strings.Join(msgs, "; "))
	p.Errors = errs
	return p
}

// cutInput is input quoted without quotation marks, where a sentence reads
// better so: cut as broadcast.Quote cuts.
func cutInput(s string) string { return broadcast.Cut(s, broadcast.MaxQuotedBytes) }

// bound cuts the problem to the bounds above.
func (p *Problem) bound() {
	if more := len(p.Errors) - maxListedErrors; more > 0 {
		p.Errors, p.MoreErrors = p.Errors[:maxListedErrors], p.MoreErrors+more
	}
	for i, e := range p.Errors {
		p.Errors[i] = broadcast.FieldError{Field: broadcast.Cut(e.Field, maxFieldBytes), Message: broadcast.Cut(e.Message, maxMessageBytes)}
	}
	p.Detail = broadcast.Cut(p.Detail, maxDetailBytes)
	p.Instance = broadcast.Cut(p.Instance, maxInstanceBytes)
}

// errorHandler answers every error as application/problem+json. A
// dependency being down is a 503 naming it (unavailableDependency).
// Anything else not already a Problem or an HTTPError is an internal fault:
// it is logged, and the client is told only the request id.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var (
			p       *Problem
			httpErr *echo.HTTPError
		)
		dependency, down := unavailableDependency(err)
		switch {
		case errors.As(err, &p):
		case errors.As(err, &httpErr):
			p = problem(httpErr.Code, "%s", httpMessage(c, httpErr))
		case down:
			p = unavailableProblem(c, logger, dependency, err)
		default:
			logger.ErrorContext(c.Request().Context(), "Request failed", "error", err,
				"method", c.Request().Method, "path", c.Path(), "request_id", requestID(c))
			p = problem(http.StatusInternalServerError, "the request failed on the server; quote request id %s when reporting it", requestID(c))
		}
		p.Instance = c.Request().URL.Path
		p.RequestID = requestID(c)
		p.bound()
		body, _ := json.Marshal(p)
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		c.Response().WriteHeader(p.Status)
		if c.Request().Method != http.MethodHead {
			_, _ = c.Response().Write(body)
		}
	}
}

func httpMessage(c echo.Context, e *echo.HTTPError) string {
	switch e.Code {
	case http.StatusNotFound:
		return fmt.Sprintf("no route %s %s; the README lists the API's routes", cutInput(c.Request().Method), cutInput(c.Request().URL.Path))
	case http.StatusMethodNotAllowed:
		return fmt.Sprintf("%s does not take %s; see the Allow header", cutInput(c.Request().URL.Path), cutInput(c.Request().Method))
	}
	if msg, ok := e.Message.(string); ok {
		return msg
	}
	return http.StatusText(e.Code)
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// maxBodyBytes is the largest request body accepted (413 beyond).
const maxBodyBytes = 1 << 20

// decodeJSON reads the request body into v strictly: a body not labelled
// JSON (415), unknown fields, trailing data, wrong types and oversized bodies
// are refused with a message that names the problem. An empty body is
// allowed only when optional is true.
func decodeJSON(c echo.Context, v any, optional bool) error {
	r := c.Request()
	media, err := bodyMediaType(r)
	switch {
	case err != nil:
		return err
	case media == "" && optional:
		return nil
	case media == "":
		return problem(http.StatusBadRequest, "the request needs a JSON body")
	case !isJSONMediaType(media):
		return notJSON(r)
	}
	body := http.MaxBytesReader(c.Response(), r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if errors.Is(err, io.EOF) {
		if optional {
			return nil
		}
		return problem(http.StatusBadRequest, "the request needs a JSON body")
	}
	if err == nil {
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			return problem(http.StatusBadRequest, "the body must hold one JSON object and nothing after it")
		}
		return nil
	}
	var (
		tooLarge  *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		timeErr   *timeParseError
		durErr    *series.DurationError
	)
	switch {
	case errors.As(err, &tooLarge):
		return problem(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes (1 MiB)", maxBodyBytes)
	case errors.As(err, &syntaxErr):
		return problem(http.StatusBadRequest, "malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem(http.StatusBadRequest, "malformed JSON: the body ends too early")
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return problem(http.StatusBadRequest, "the body must be a JSON object, not a JSON %s", typeErr.Value)
	case errors.As(err, &typeErr):
		return problem(http.StatusBadRequest, "field %s must be %s, not a JSON %s", broadcast.Quote(typeErr.Field), jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &timeErr):
		return timeErr.problem()
	case errors.As(err, &durErr):
		return problem(http.StatusBadRequest, "%v", durErr)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return problem(http.StatusBadRequest, "unknown field %s; see the API reference in the README for the fields", unknownField(err))
	default:
		return problem(http.StatusBadRequest, "the body is not valid JSON for this request: %v", err)
	}
}

// unknownField is the quoted name of the field encoding/json refused.
func unknownField(err error) string {
	name := strings.TrimPrefix(err.Error(), "json: unknown field ")
	if unquoted, uerr := strconv.Unquote(name); uerr == nil {
		name = unquoted
	}
	return broadcast.Quote(name)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	default:
		return "a number"
	}
}
