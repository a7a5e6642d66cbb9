package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
)

// LinkTTL is how long a sign-in link may wait to be opened.
const LinkTTL = 15 * time.Minute

// MaxSessionTTL bounds the session a link opens.
const MaxSessionTTL = 7 * 24 * time.Hour

// Links are one-time sign-in codes, kept in PostgreSQL so that any API
// node can redeem a code another node's command stored, and only once.
type Links struct{ pool *pgxpool.Pool }

// NewLinks stores codes in pool's console_signin_codes.
func NewLinks(pool *pgxpool.Pool) *Links { return &Links{pool: pool} }

// Link is whom a code signs in, and for how long.
type Link struct {
	Subject, Name string
	Roles         []string
	SessionTTL    time.Duration
}

// ErrLinkUsed is a code that is unknown, used or expired.
var ErrLinkUsed = errors.New("this sign-in link was used already, has expired, or never existed: ask for a new one (crier signin-link)")

// Create stores a code for l, valid for LinkTTL, and returns it. Expired
// codes are deleted on the way.
func (s *Links) Create(ctx context.Context, l Link) (string, error) {
	if l.Subject == "" || l.SessionTTL <= 0 || l.SessionTTL > MaxSessionTTL {
		return "", fmt.Errorf("a sign-in link needs a subject and a session of at most %s, got %q for %s", MaxSessionTTL, l.Subject, l.SessionTTL)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	code := base64.RawURLEncoding.EncodeToString(raw)
	if l.Roles == nil {
		l.Roles = []string{}
	}
	_, err := s.pool.Exec(ctx, `
		WITH gone AS (DELETE FROM console_signin_codes WHERE expires_at < now())
		INSERT INTO console_signin_codes (code_hash, subject, name, roles, session_ttl, expires_at)
		VALUES ($1, $2, $3, $4, $5 * interval '1 microsecond', now() + $6 * interval '1 microsecond')`,
		hash(code), l.Subject, l.Name, l.Roles, l.SessionTTL.Microseconds(), LinkTTL.Microseconds())
	if err != nil {
		return "", fmt.Errorf("store a sign-in code: %w", err)
	}
	return code, nil
}

// Redeem spends code: the first call gets its Link, every later one (or one
// after LinkTTL) ErrLinkUsed.
func (s *Links) Redeem(ctx context.Context, code string) (Link, error) {
	var (
		l     Link
		ttlUS int64
		valid bool
	)
	err := s.pool.QueryRow(ctx, `
		DELETE FROM console_signin_codes WHERE code_hash = $1
		RETURNING subject, name, roles, (extract(epoch FROM session_ttl) * 1e6)::bigint, expires_at > now()`,
		hash(code)).Scan(&l.Subject, &l.Name, &l.Roles, &ttlUS, &valid)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !valid) {
		return Link{}, ErrLinkUsed
	}
	if err != nil {
		return Link{}, fmt.Errorf("redeem a sign-in code: %w", err)
	}
	l.SessionTTL = time.Duration(ttlUS) * time.Microsecond
	return l, nil
}

func hash(code string) []byte {
	sum := sha256.Sum256([]byte(code))
	return sum[:]
}

// redeem spends a link's code and signs its session token.
func (c *Console) redeem(ctx echo.Context, code string) (string, error) {
	if c.cfg.Links == nil || c.cfg.Issue == nil {
		return "", problem(http.StatusNotFound, "sign-in links are off here: Crier signs no tokens (no CRIER_JWT_SECRET); sign in with a token or single sign-on")
	}
	l, err := c.cfg.Links.Redeem(ctx.Request().Context(), code)
	if errors.Is(err, ErrLinkUsed) {
		return "", problem(http.StatusUnauthorized, "%v", err)
	}
	if err != nil {
		return "", err
	}
	return c.cfg.Issue(l.Subject, l.Name, l.Roles, l.SessionTTL)
}
