package api

import (
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// maxClientRequestID is how much of a client's X-Request-Id is kept (in the
// request log and the audit log); the rest is dropped.
const maxClientRequestID = 128

// clientRequestIDKey is where requestIDs keeps the client's X-Request-Id.
const clientRequestIDKey = "crier.client_request_id"

// requestIDs gives every request an id of Crier's own (a UUIDv7), answered in
// X-Request-Id and written to the request log, problem answers and the
// audit log. A client's X-Request-Id is never taken for it: any client can
// send any value, so an id it chose would let it name, or collide with,
// another request's entries. The client's value is kept apart, cut to
// maxClientRequestID printable ASCII characters, as client_request_id, and
// removed from the request so nothing after this reads it as the id.
func requestIDs(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if sent := cleanClientRequestID(req.Header.Get(echo.HeaderXRequestID)); sent != "" {
			c.Set(clientRequestIDKey, sent)
		}
		req.Header.Del(echo.HeaderXRequestID)
		c.Response().Header().Set(echo.HeaderXRequestID, uuid.Must(uuid.NewV7()).String())
		return next(c)
	}
}

// clientRequestID is the X-Request-Id the client sent, cleaned; empty when
// it sent none.
func clientRequestID(c echo.Context) string {
	s, _ := c.Get(clientRequestIDKey).(string)
	return s
}

// cleanClientRequestID keeps the printable ASCII characters of a client's
// request id, at most maxClientRequestID of them.
func cleanClientRequestID(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxClientRequestID; i++ {
		if s[i] >= 0x20 && s[i] < 0x7f {
			b.WriteByte(s[i])
		}
	}
	return strings.TrimSpace(b.String())
}
