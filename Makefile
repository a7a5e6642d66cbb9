# Crier's commands. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# Every go command runs the Go release named once, in scripts/lib.sh (CRIER_GO).
export GOTOOLCHAIN := $(shell sed -n 's/^CRIER_GO=//p' scripts/lib.sh)
GO ?= go
# gofmt of that release (the one on PATH belongs to the machine's own Go).
GOFMT = $(shell GOTOOLCHAIN=$(GOTOOLCHAIN) $(GO) env GOROOT)/bin/gofmt
BIN := bin/crier

.PHONY: help dev test bench chaos check-alerts vulncheck lint fuzz console build vet fmt tools clean

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

dev: ## run PostgreSQL, Kafka, Temporal (with Web UI) and Crier on loopback; Ctrl-C stops all
	@scripts/dev.sh

test: ## run every test (the bench module's too) against real PostgreSQL, Kafka and Temporal started for the run
	@scripts/test.sh

bench: ## burst lateness (vs a 60 s poller and a naive workflow), creation, relay, inbox, SSE fan-out; writes BENCHMARKS.md (~20 min)
	@scripts/bench.sh

chaos: ## kill workers, the relay, an API node, a Kafka broker; stop PostgreSQL and Temporal: checks nothing is lost or repeated; writes CHAOS.md (~25 min)
	@scripts/chaos.sh

fuzz: ## run every fuzz target for FUZZTIME each (default 60s), no services needed
	@scripts/fuzz.sh

console: ## build the admin console (console/, TypeScript from the npm lockfile) that crier embeds
	@scripts/console.sh build

build: console ## build bin/crier, with the admin console
	$(GO) build -trimpath -o $(BIN) ./cmd/crier

vet: ## go vet and gofmt check (the product and the bench module)
	$(GO) vet ./...
	cd bench && $(GO) vet ./...
	@test -z "$$($(GOFMT) -l $$(git ls-files '*.go'))" || { $(GOFMT) -l $$(git ls-files '*.go'); echo "gofmt would change the files above"; exit 1; }

fmt: ## format the Go code
	$(GOFMT) -w $$(git ls-files '*.go')

check-alerts: ## check deploy/: alert rules (promtool unit tests), scrape config, dashboard queries (builds promtool on first use)
	@scripts/check-alerts.sh

vulncheck: ## govulncheck against the Go vulnerability database pinned in tools/vulncheck; fails on a reachable advisory
	@scripts/vulncheck.sh

lint: ## shellcheck over every shell script, golangci-lint (.golangci.yml) over every Go module (builds golangci-lint on first use)
	@scripts/lint.sh

tools: ## build the Temporal CLI, govulncheck and golangci-lint, fetch the Kafka jars (make dev, make test and make lint build what they need)
	@scripts/temporal.sh build
	@scripts/kafka.sh fetch
	@scripts/vulncheck.sh build
	@scripts/lint.sh build

clean: ## remove build output and test state (keeps .dev data)
	@scripts/stack.sh down .test >/dev/null 2>&1 || true
	rm -rf bin .test
