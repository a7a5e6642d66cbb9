//go:build tools

// Package tools pins the Temporal server so `go build` in this module builds
// exactly the version named in go.mod: the server binary and the SQL schema
// tool (temporal-sql-tool) that creates and migrates its PostgreSQL schemas.
package tools

import (
	_ "go.temporal.io/server/cmd/server"
	_ "go.temporal.io/server/cmd/tools/sql"
)
