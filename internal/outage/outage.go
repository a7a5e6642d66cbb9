package outage

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrPostgreSQL means PostgreSQL did not answer. Code that knows it (rather
// than holding one of pgx's errors) wraps it; PostgreSQL recognises both.
var ErrPostgreSQL = errors.New("PostgreSQL is unavailable")

// PostgreSQL reports whether err, returned by code whose only network peer
// is PostgreSQL, says PostgreSQL is unavailable rather than refusing the
// request for its data or its state:
//
//   - a connection could not be made (*pgconn.ConnectError: refused, timed
//     out, the server starting up or out of connections, authentication or
//     TLS failing); acquiring from an empty pool makes one, so a pool
//     waiting on a database it cannot reach ends here too;
//   - the server said so: SQLSTATE class 08 (connection exception) or 57P0x
//     (admin or crash shutdown, cannot connect now, database dropped);
//   - a connection broke under a statement: reset, cut short (EOF), closed
//     or timed out. pgx returns these as the network gave them, so they
//     cannot be told from another peer's; the API answers a request body's
//     own read errors before, and Temporal's are workflows.ErrUnavailable.
//
// A request whose own context was cancelled (the client left) is not an
// outage, nor is any other server error (a constraint, a syntax error).
func PostgreSQL(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrPostgreSQL) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P0")
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.Timeout(err)
}
