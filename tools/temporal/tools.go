//go:build tools

// Package tools pins the Temporal CLI so `go build` in this module builds
// exactly the version named in go.mod.
package tools

import _ "github.com/temporalio/cli/cmd/temporal"
