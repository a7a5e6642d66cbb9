package api

import "github.com/labstack/echo/v4"

// Audience is what the API needs of the user directory and statistics.
// (Placeholder: filled in by the delivery issue's audience work.)
type Audience interface{}

// audienceRoutes registers the user directory and statistics routes.
func (h *handlers) audienceRoutes(_ *echo.Group, _ echo.MiddlewareFunc) {}
