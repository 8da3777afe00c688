# bizmcp: `make help` lists the targets. `make run` and `make test` start
# their own PostgreSQL and Redis under .data/ unless DATABASE_URL/REDIS_URL
# are set (run) — tests always use their own.

SHELL := /usr/bin/env bash
GO ?= go
TEST_PG_PORT ?= 55433
TEST_REDIS_PORT ?= 56380
DEV_PG_PORT ?= 55432
DEV_REDIS_PORT ?= 56379
BENCH_PG_PORT ?= 55700
BENCH_REDIS_PORT ?= 56700
GOTESTFLAGS ?= -race -count=1 -timeout 20m
PKGS ?= ./...
FUZZTIME ?= 10m
FUZZTIME_SHORT ?= 5s

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: run
run: ## serve bizmcp at http://localhost:8080 on local PostgreSQL and Redis
	BIZMCP_DEV_PG_PORT=$(DEV_PG_PORT) BIZMCP_DEV_REDIS_PORT=$(DEV_REDIS_PORT) scripts/run.sh

.PHONY: build
build: ## build bin/bizmcp
	$(GO) build -buildvcs=auto -o bin/bizmcp ./cmd/bizmcp

.PHONY: test
test: ## every test: Go tests (race detector on) on local PostgreSQL and Redis, then MCP interop
	scripts/chromium.sh
	scripts/services.sh with test $(TEST_PG_PORT) $(TEST_REDIS_PORT) -- \
	  env BIZMCP_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$(TEST_PG_PORT)/postgres?sslmode=disable" \
	      BIZMCP_TEST_REDIS_URL="redis://127.0.0.1:$(TEST_REDIS_PORT)/0" \
	  bash -c '$(GO) tool gotestsum --format testname --format-hide-empty-pkg -- $(GOTESTFLAGS) $(PKGS) && scripts/interop.sh && FUZZTIME=$(FUZZTIME_SHORT) scripts/fuzz.sh'

.PHONY: screenshots
screenshots: ## regenerate docs/screenshots/*.png with the browser tests (headless Chromium); commit them
	scripts/chromium.sh
	rm -f docs/screenshots/*.png
	scripts/services.sh with test $(TEST_PG_PORT) $(TEST_REDIS_PORT) -- \
	  env BIZMCP_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$(TEST_PG_PORT)/postgres?sslmode=disable" \
	      BIZMCP_TEST_REDIS_URL="redis://127.0.0.1:$(TEST_REDIS_PORT)/0" \
	      BIZMCP_SCREENSHOTS=1 BIZMCP_REQUIRE_BROWSER=1 \
	  $(GO) test -count=1 -run '^TestDashboard$$' ./internal/browsertest/

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 10m) against local PostgreSQL and Redis
	scripts/services.sh with test $(TEST_PG_PORT) $(TEST_REDIS_PORT) -- \
	  env BIZMCP_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$(TEST_PG_PORT)/postgres?sslmode=disable" \
	      BIZMCP_TEST_REDIS_URL="redis://127.0.0.1:$(TEST_REDIS_PORT)/0" \
	  FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

.PHONY: chaos
chaos: ## fault and soak drills (SIGKILL, PostgreSQL restart, Redis outage, 30-min soak) on their own services; CHAOSFLAGS=-short for the 4-minute version
	scripts/chaos.sh $(CHAOSFLAGS)

.PHONY: conformance
conformance: ## the official MCP conformance suite and the MCP Inspector CLI against a real server (Node 22, pinned)
	scripts/services.sh with test $(TEST_PG_PORT) $(TEST_REDIS_PORT) -- scripts/interop.sh

.PHONY: bench
bench: build ## side by side with the peers (cmd/bench) on its own PostgreSQL and Redis: writes docs/benchmarks.md and docs/bench/*.svg (BENCHFLAGS='-only mcp', '-short')
	$(GO) build -o bin/bench ./cmd/bench
	scripts/services.sh with bench $(BENCH_PG_PORT) $(BENCH_REDIS_PORT) -- bin/bench $(BENCHFLAGS)

.PHONY: bench-go
bench-go: ## the Go micro-benchmarks (go test -bench) against local PostgreSQL and Redis
	scripts/services.sh with test $(TEST_PG_PORT) $(TEST_REDIS_PORT) -- \
	  env BIZMCP_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$(TEST_PG_PORT)/postgres?sslmode=disable" \
	      BIZMCP_TEST_REDIS_URL="redis://127.0.0.1:$(TEST_REDIS_PORT)/0" \
	  $(GO) test -run '^$$' -bench . -benchmem $(PKGS)

.PHONY: generate
generate: ## regenerate templ and sqlc code
	$(GO) tool templ generate
	$(GO) tool sqlc generate

.PHONY: verify
verify: ## prove generated code is current, gofmt and go vet are clean
	$(GO) tool sqlc diff
	$(GO) tool templ generate
	@git diff --exit-code -- '*_templ.go' || { echo "templ output is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- '*_templ.go')" || { echo "uncommitted templ output: run make generate and commit"; exit 1; }
	$(MAKE) lint

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt would change: $$out"; exit 1; }
	$(GO) vet ./...

.PHONY: db-reset
db-reset: ## drop and recreate the local development database
	scripts/services.sh start dev $(DEV_PG_PORT) $(DEV_REDIS_PORT)
	psql -h 127.0.0.1 -p $(DEV_PG_PORT) -U postgres -d postgres -c 'DROP DATABASE IF EXISTS bizmcp WITH (FORCE)' -c 'CREATE DATABASE bizmcp'
	redis-cli -p $(DEV_REDIS_PORT) flushdb

.PHONY: services-stop
services-stop: ## stop the local PostgreSQL and Redis that make run/test started
	scripts/services.sh stop dev
	scripts/services.sh stop test

.PHONY: clean
clean: ## stop services and remove .data/ and bin/
	$(MAKE) services-stop
	rm -rf .data bin
