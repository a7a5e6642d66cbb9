//go:build tools

// Package tools pins promtool (Prometheus's rule checker and rule unit-test
// runner) so `go build` in this module builds exactly the version named in
// go.mod. scripts/check-alerts.sh builds it into .tools/bin/promtool.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
