package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crier/crier/internal/presence"
)

// Presence is what the API needs to report who is connected (presence.Store).
type Presence interface {
	Summary(ctx context.Context) (presence.Summary, error)
}

// presenceRoutes registers the admin presence route.
func (h *handlers) presenceRoutes(v1 *echo.Group, admin echo.MiddlewareFunc) {
	v1.GET("/admin/presence", h.presence, admin)
}

// presenceResponse is the answer of GET /admin/presence. OnlineUsers and
// Connections count live connections only; Nodes lists every node that still
// has rows, with its own counts, and flags those that stopped refreshing
// (their rows go at the next clean-up).
type presenceResponse struct {
	OnlineUsers int            `json:"online_users"`
	Connections int            `json:"connections"`
	Nodes       []nodePresence `json:"nodes"`
}

type nodePresence struct {
	NodeID      string    `json:"node_id"`
	Connections int       `json:"connections"`
	Users       int       `json:"users"`
	LastSeenAt  time.Time `json:"last_seen_at"`
	Stale       bool      `json:"stale"`
}

func (h *handlers) presence(c echo.Context) error {
	sum, err := h.cfg.Presence.Summary(c.Request().Context())
	if err != nil {
		return fmt.Errorf("read presence: %w", err)
	}
	out := presenceResponse{OnlineUsers: sum.OnlineUsers, Connections: sum.Connections, Nodes: make([]nodePresence, 0, len(sum.Nodes))}
	for _, n := range sum.Nodes {
		out.Nodes = append(out.Nodes, nodePresence{
			NodeID: n.NodeID, Connections: n.Connections, Users: n.Users, LastSeenAt: n.LastSeen.UTC(), Stale: n.Stale,
		})
	}
	return c.JSON(http.StatusOK, out)
}
