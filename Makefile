# Hookline. `make help` lists the targets.
.DEFAULT_GOAL := help
GO ?= go

.PHONY: help
help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z\/_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## run Hookline on the embedded SQLite store (./hookline-data)
	$(GO) run ./cmd/hookline serve

# The version stamped into binaries: the git tag or commit, "dev" outside git.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/hookline/hookline.Version=$(VERSION)
# The platforms of `make release`, GOOS/GOARCH.
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
DIST ?= dist

.PHONY: build
build: ## build a static binary at ./bin/hookline
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/hookline ./cmd/hookline

.PHONY: release
release: ## static binaries for PLATFORMS (linux, darwin × amd64, arm64) in DIST (./dist), with SHA256SUMS
	@mkdir -p $(DIST)
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=$(DIST)/hookline-$(VERSION)-$$os-$$arch; \
		echo "build $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$out ./cmd/hookline; \
	done
	cd $(DIST) && sha256sum hookline-$(VERSION)-* > SHA256SUMS

.PHONY: test/release
test/release: ## build every release binary in a test and check each (about a minute per platform on a cold cache)
	HOOKLINE_TEST_RELEASE=all $(GO) test -count=1 -run 'TestRelease' ./cmd/hookline/

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
