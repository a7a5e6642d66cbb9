package api

import "github.com/labstack/echo/v4"

// Presence is what the API needs to report who is connected.
// (Placeholder: filled in by the delivery issue's presence work.)
type Presence interface{}

// presenceRoutes registers the admin presence route.
func (h *handlers) presenceRoutes(_ *echo.Group, _ echo.MiddlewareFunc) {}
