package stream

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"time"
)

// takeOver hijacks w's connection, so that an idle stream keeps little more
// than its socket. Left to net/http, under the API's middleware, each
// stream held a goroutine whose stack does not shrink below 16 KiB (the
// handler chain is 7 KiB deep), the connection's read and write buffers
// (10 KiB), a second goroutine and the request: 40 KiB of heap and stacks,
// where the stream itself needs 1 KiB (see the SSE fan-out in
// BENCHMARKS.md). It returns the response head, to be sent with the first
// frame as net/http sends it with the first flush: a client is answered once
// its stream is registered. The body is delimited by closing the connection
// (RFC 9112, 6.3): a stream has no length, and nothing follows it on the
// connection. ok is false when the connection cannot be taken over (HTTP/2,
// test recorders).
func takeOver(w http.ResponseWriter) (conn net.Conn, head []byte, ok bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, false
	}
	h := w.Header()
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(&b) // as net/http writes headers: newlines in values become spaces
	b.WriteString("\r\n")
	return conn, b.Bytes(), true
}

// watch calls leave when the client closes a connection the stream took
// over, as net/http cancels a request's context when its client goes away.
// Clients send nothing after the request; anything they do is discarded.
func watch(conn net.Conn, leave context.CancelFunc) {
	var buf [16]byte
	for {
		if _, err := conn.Read(buf[:]); err != nil {
			leave()
			return
		}
	}
}

// deadlineKey holds, in a stream's context, the deadline WithDeadline set.
type deadlineKey struct{}

type streamDeadline struct {
	at    time.Time
	cause error
}

// WithDeadline bounds a stream's context at until; the client is told cause
// (ErrTokenExpired or ErrLifetime) when the stream ends there. Use it rather
// than context.WithDeadlineCause: a stream that takes its connection over
// outlives the request's context, and keeps only this deadline of it.
func WithDeadline(ctx context.Context, until time.Time, cause error) (context.Context, context.CancelFunc) {
	ctx = context.WithValue(ctx, deadlineKey{}, streamDeadline{at: until, cause: cause})
	return context.WithDeadlineCause(ctx, until, cause)
}

// detach returns the context of a stream that outlives its request: the
// deadline WithDeadline set, with its cause, and nothing else. net/http
// cancels the request's context as soon as the handler returns, and keeping
// its values (context.WithoutCancel) would keep its whole chain, about
// 1.3 KiB with the request's span, for the stream's lifetime; nothing the
// stream does later reads them.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	root := context.Background() // the request's context ends with the handler
	if d, ok := ctx.Value(deadlineKey{}).(streamDeadline); ok {
		return context.WithDeadlineCause(root, d.at, d.cause)
	}
	if at, ok := ctx.Deadline(); ok {
		return context.WithDeadline(root, at)
	}
	return context.WithCancel(root)
}
