package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument is the OpenAPI 3.1 description of the API. A test holds it
// to Echo's route table, so a route cannot be added or removed without it.
//
//go:embed openapi.yaml
var openAPIDocument []byte

// openAPIRoute registers GET /openapi.yaml, public like the probes: the
// description holds nothing a caller could not learn from the README.
func (h *handlers) openAPIRoute(e *echo.Echo) {
	e.GET("/openapi.yaml", serveOpenAPI)
}

func serveOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", openAPIDocument)
}
