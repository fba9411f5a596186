# Hookline. `make help` lists the targets.
.DEFAULT_GOAL := help
GO ?= go

.PHONY: help
help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z\/_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## run Hookline on the embedded SQLite store (./hookline-data)
	$(GO) run ./cmd/hookline serve

.PHONY: build
build: ## build a static binary at ./bin/hookline
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X github.com/hookline/hookline.Version=$$(git describe --tags --always --dirty 2>/dev/null || echo dev)" -o bin/hookline ./cmd/hookline

.PHONY: test
test: ## run the whole test suite with the race detector (starts a throwaway PostgreSQL on loopback)
	scripts/test.sh

.PHONY: test/quick
test/quick: ## run the whole test suite without the race detector
	RACE=0 scripts/test.sh

.PHONY: vulncheck
vulncheck: ## govulncheck: fail on known vulnerabilities our code reaches
	scripts/vulncheck.sh

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (default 10s), one at a time
	scripts/fuzz.sh

.PHONY: bench
bench: ## run the Go benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: web/vendor
web/vendor: ## copy the browser libraries pinned by web/package-lock.json into web/static/vendor
	cd web && npm ci --ignore-scripts --no-audit --no-fund && \
		cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css static/vendor/ && \
		(cd static/vendor && sha256sum uPlot.iife.min.js uPlot.min.css) > vendor.sum

.PHONY: lint
lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet ./...
