package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/inbox"
	"github.com/crier/crier/internal/outage"
	"github.com/crier/crier/internal/stream"
)

// Inbox is what the API needs of users' inboxes.
type Inbox interface {
	List(ctx context.Context, u inbox.User, p inbox.ListParams) ([]inbox.Item, string, error)
	MarkRead(ctx context.Context, u inbox.User, id uuid.UUID) (inbox.Item, error)
	MarkAllRead(ctx context.Context, u inbox.User) (int, error)
}

// Streams is what the API needs to serve event streams. Serve refuses a user
// who holds the most streams allowed with stream.ErrTooManyConnections, and
// fails when it cannot read what the stream starts with, before writing
// anything.
type Streams interface {
	Serve(ctx context.Context, w http.ResponseWriter, u inbox.User, lastEventID string) error
}

// Tickets issues and redeems single-use stream tickets.
type Tickets interface {
	Issue(ctx context.Context, claims *auth.Claims) (string, time.Duration, error)
	Redeem(ctx context.Context, ticket string) (*auth.Claims, error)
}

// Learner learns users and their roles from their tokens.
type Learner interface {
	Learn(ctx context.Context, userID, name string, roles []string, zone string) error
}

// UserConfig holds what the user routes (/api/v1/me) need; a nil Inbox
// leaves them out.
type UserConfig struct {
	Inbox   Inbox
	Streams Streams
	Tickets Tickets
	// Learner, when set, learns each caller from their token.
	Learner Learner
	// MaxStreamLifetime ends a stream after this long (clients reconnect
	// and resume); a stream also ends when its token expires. Default 1h.
	MaxStreamLifetime time.Duration
}

func (h *handlers) userRoutes(v1 *echo.Group) {
	user := h.guard("")
	learn := h.learnUser
	v1.GET("/me/broadcasts", h.myBroadcasts, user, learn)
	v1.POST("/me/broadcasts/read-all", h.readAll, user, learn)
	v1.POST("/me/broadcasts/:id/read", h.read, user, learn)
	v1.POST("/me/stream-ticket", h.streamTicket, user, learn)
	v1.GET("/me/stream", h.stream)
}

func (h *handlers) learnUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if l := h.cfg.Users.Learner; l != nil {
			claims := auth.ClaimsFrom(c)
			// Learning is best effort: the user is learned on a later
			// request. PostgreSQL being down is logged by the request
			// that needs it, not once more here.
			if err := l.Learn(c.Request().Context(), claims.Subject, claims.Name, claims.Roles, claims.ZoneInfo); err != nil && !outage.PostgreSQL(err) {
				h.cfg.Logger.WarnContext(c.Request().Context(), "Could not learn user from token", "user_id", claims.Subject, "error", err)
			}
		}
		return next(c)
	}
}

// streamDeadline bounds a stream by its token's expiry and by the maximum
// lifetime, whichever comes first, naming which one ended it.
func streamDeadline(ctx context.Context, claims *auth.Claims, maxLifetime time.Duration) (context.Context, context.CancelFunc) {
	if maxLifetime <= 0 {
		maxLifetime = time.Hour
	}
	until, cause := time.Now().Add(maxLifetime), stream.ErrLifetime
	if claims.ExpiresAt != nil && claims.ExpiresAt.Before(until) {
		until, cause = claims.ExpiresAt.Time, stream.ErrTokenExpired
	}
	return stream.WithDeadline(ctx, until, cause)
}

func userOf(claims *auth.Claims) inbox.User {
	return inbox.User{ID: claims.Subject, Roles: claims.Roles, TimeZone: claims.ZoneInfo}
}

func (h *handlers) myBroadcasts(c echo.Context) error {
	p := inbox.ListParams{Cursor: c.QueryParam("cursor")}
	if raw := c.QueryParam("unread"); raw != "" {
		unread, err := strconv.ParseBool(raw)
		if err != nil {
			return problem(http.StatusBadRequest, "unread must be true or false, got %s", broadcast.Quote(raw))
		}
		p.UnreadOnly = unread
	}
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 100 {
			return problem(http.StatusBadRequest, "limit must be a whole number from 1 to 100, got %s", broadcast.Quote(raw))
		}
		p.Limit = n
	}
	items, next, err := h.cfg.Users.Inbox.List(c.Request().Context(), userOf(auth.ClaimsFrom(c)), p)
	if errors.Is(err, inbox.ErrBadCursor) {
		return problem(http.StatusBadRequest, "%v", err)
	}
	if err != nil {
		return err
	}
	if items == nil {
		items = []inbox.Item{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}

func (h *handlers) read(c echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return problem(http.StatusNotFound, "no broadcast %s in your inbox", broadcast.Quote(c.Param("id")))
	}
	item, err := h.cfg.Users.Inbox.MarkRead(c.Request().Context(), userOf(auth.ClaimsFrom(c)), id)
	if errors.Is(err, inbox.ErrNotFound) {
		return problem(http.StatusNotFound, "no broadcast %s in your inbox", id)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, item)
}

func (h *handlers) readAll(c echo.Context) error {
	n, err := h.cfg.Users.Inbox.MarkAllRead(c.Request().Context(), userOf(auth.ClaimsFrom(c)))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"marked_read": n})
}

func (h *handlers) streamTicket(c echo.Context) error {
	ticket, ttl, err := h.cfg.Users.Tickets.Issue(c.Request().Context(), auth.ClaimsFrom(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"ticket": ticket, "expires_in": int(ttl.Seconds()),
		"stream_url": "/api/v1/me/stream?ticket=" + ticket})
}

// stream serves GET /me/stream. A browser's EventSource cannot send headers,
// so besides the bearer header it takes the crier_token cookie or a
// single-use ticket (?ticket=), never a long-lived token in the URL.
func (h *handlers) stream(c echo.Context) error {
	ctx := c.Request().Context()
	var (
		claims *auth.Claims
		err    error
	)
	if ticket := c.QueryParam("ticket"); ticket != "" {
		claims, err = h.cfg.Users.Tickets.Redeem(ctx, ticket)
		if errors.Is(err, auth.ErrBadTicket) {
			return problem(http.StatusUnauthorized, "%v", err)
		}
	} else {
		claims, err = h.cfg.Verifier.FromRequest(c)
	}
	if err != nil {
		return err
	}
	auth.SetClaims(c, claims)
	if err := h.learnUser(func(echo.Context) error { return nil })(c); err != nil {
		return err
	}
	u := userOf(claims)
	if err := h.limits.allowStream(c, u.ID); err != nil {
		return err
	}
	lastEventID := c.Request().Header.Get("Last-Event-ID")
	if lastEventID == "" {
		lastEventID = c.QueryParam("last_event_id")
	}
	ctx, cancel := streamDeadline(ctx, claims, h.cfg.Users.MaxStreamLifetime)
	defer cancel()
	// Serve reads what it needs of PostgreSQL (presence, the catch-up)
	// before it writes anything, so its errors are answered like any
	// route's: PostgreSQL down is a 503.
	err = h.cfg.Users.Streams.Serve(ctx, c.Response(), u, lastEventID)
	if errors.Is(err, stream.ErrTooManyConnections) {
		c.Response().Header().Set("Retry-After", "10")
		return problem(http.StatusTooManyRequests, "you already have the most open streams allowed; close one (another tab?) and retry")
	}
	return err
}
