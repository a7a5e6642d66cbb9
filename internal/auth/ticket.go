package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TicketTTL is how long a stream ticket may wait to be used.
const TicketTTL = 30 * time.Second

// ErrBadTicket means a ticket unknown, already used or expired.
var ErrBadTicket = errors.New("stream ticket unknown, used or expired: get a new one from POST /api/v1/me/stream-ticket")

// Tickets issues short-lived, single-use stream tickets. They live in
// PostgreSQL (hashed), so a ticket issued by one node opens a stream on any.
type Tickets struct {
	pool *pgxpool.Pool
}

// NewTickets returns ticket storage on pool.
func NewTickets(pool *pgxpool.Pool) *Tickets { return &Tickets{pool: pool} }

// Issue returns a new ticket for the claims' user and roles.
func (t *Tickets) Issue(ctx context.Context, claims *Claims) (string, time.Duration, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", 0, err
	}
	ticket := base64.RawURLEncoding.EncodeToString(raw)
	hash := sha256.Sum256([]byte(ticket))
	if _, err := t.pool.Exec(ctx, `
		WITH gone AS (DELETE FROM stream_tickets WHERE expires_at < now() - interval '1 minute')
		INSERT INTO stream_tickets (ticket_hash, user_id, roles, expires_at, token_expires_at)
		VALUES ($1, $2, $3, now() + $4::interval, $5)`,
		hash[:], claims.Subject, claims.Roles, TicketTTL.String(), tokenExpiry(claims)); err != nil {
		return "", 0, fmt.Errorf("store stream ticket: %w", err)
	}
	return ticket, TicketTTL, nil
}

// Redeem uses up a ticket and returns the claims it was issued for.
func (t *Tickets) Redeem(ctx context.Context, ticket string) (*Claims, error) {
	hash := sha256.Sum256([]byte(ticket))
	claims := &Claims{}
	var expires *time.Time
	err := t.pool.QueryRow(ctx, `DELETE FROM stream_tickets WHERE ticket_hash = $1 AND expires_at > now()
		RETURNING user_id, roles, token_expires_at`, hash[:]).Scan(&claims.Subject, &claims.Roles, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrBadTicket
	}
	if err != nil {
		return nil, fmt.Errorf("redeem stream ticket: %w", err)
	}
	if expires != nil {
		claims.ExpiresAt = jwt.NewNumericDate(*expires)
	}
	return claims, nil
}

// tokenExpiry is when the ticket's token expires, nil when it never does.
func tokenExpiry(claims *Claims) *time.Time {
	if claims.ExpiresAt == nil {
		return nil
	}
	t := claims.ExpiresAt.Time
	return &t
}
