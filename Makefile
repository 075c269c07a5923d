# eksd-kata — build, test and lint. `make test` installs what it needs itself.
SHELL := /bin/bash
GO ?= go
PKG := github.com/eksd-kata/eksd-kata
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(PKG)/pkg/version.Version=$(VERSION) -X $(PKG)/pkg/version.Commit=$(COMMIT)
PREFIX ?= /usr/local
STATICCHECK_VERSION ?= v0.8.2
GOBIN_DIR := $(CURDIR)/.cache/bin
FUZZTIME ?= 30s

.PHONY: all build test test-prereqs lint fuzz e2e e2e-conformance e2e-upgrade e2e-bench bench install clean

all: build

## build: static binary at bin/eksd-kata, version stamped
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/eksd-kata ./cmd/eksd-kata

## test-prereqs: apt packages (containerd, runc, ...), Go modules, test daemons
test-prereqs:
	./scripts/test-prereqs.sh

## test: everything CI runs — prerequisites, unit and integration tests (real containerd), race detector
test: test-prereqs
	$(GO) test -race -count=1 -timeout 12m ./...

## lint: gofmt, go vet, staticcheck, shellcheck
lint:
	@out=$$(gofmt -l cmd pkg templates 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@test -x $(GOBIN_DIR)/staticcheck || GOBIN=$(GOBIN_DIR) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN_DIR)/staticcheck ./...
	@command -v shellcheck >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; }
	shellcheck scripts/*.sh scripts/*/*.sh

## fuzz: scripts/fuzz.sh, each fuzz target (FUZZ=FuzzUnpack: that one) for FUZZTIME (30s) one after the other; not part of test, which replays the seeds and testdata/fuzz
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh $(FUZZ)

## e2e: slow end-to-end run on a throwaway node (see README)
e2e: build
	./scripts/e2e.sh

## e2e-conformance: scripts/e2e/conformance.sh, Kubernetes' sig-node and sig-network [Conformance] tests against a two-node e2e cluster (slow; see docs/testing.md)
e2e-conformance: build
	./scripts/e2e/conformance.sh

## e2e-upgrade: scripts/e2e.sh with E2E_RELEASE=1-35-13 E2E_UPGRADE_TO="1-36-7 1-36-8", a control plane and a worker made at 1-35, upgraded with eksd-kata upgrade to 1-36 (a minor), then to 1-36-8 (a patch) (slow; see docs/testing.md)
e2e-upgrade: build
	E2E_RELEASE=1-35-13 E2E_UPGRADE_TO="1-36-7 1-36-8" ./scripts/e2e.sh

## e2e-bench: scripts/bench/e2e-init.sh, the bootstrap against kubeadm init alone on fresh e2e nodes (ROUNDS=7; BASE=REV alternates with that revision; slow)
e2e-bench:
	./scripts/bench/e2e-init.sh $(or $(ROUNDS),7) $(BASE)

## bench: benchmarks (go test -bench) and scripts/bench/* but the e2e one (make e2e-bench)
bench: test-prereqs
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@for s in scripts/bench/*.sh; do [ "$$s" = scripts/bench/e2e-init.sh ] || { [ -x "$$s" ] && "$$s"; }; done; true

## install: copy the binary to $(PREFIX)/bin
install: build
	install -D -m 0755 bin/eksd-kata $(DESTDIR)$(PREFIX)/bin/eksd-kata

clean:
	rm -rf bin
