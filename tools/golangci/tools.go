//go:build tools

// Package tools pins golangci-lint (the Go linters run by make lint) so
// `go build` in this module builds exactly the version named in go.mod.
// scripts/lint.sh builds it into .tools/bin/golangci-lint.
package tools

import _ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
