//go:build tools

// Package tools pins govulncheck and the Go vulnerability database so that
// `go build` in this module builds exactly the versions named in go.mod:
// golang.org/x/vulndb is both the database (its data/osv reports) and the
// command that indexes them (cmd/indexdb), so one require line names the
// database's version.
package tools

import (
	_ "golang.org/x/vuln/cmd/govulncheck"
	_ "golang.org/x/vulndb/cmd/indexdb"
)
