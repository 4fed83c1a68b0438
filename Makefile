# ferricd — see README.md. Targets:
#   make run     build and start one node with the defaults
#   make test    every test: vet + gofmt, unit, integration, differential (needs redis-server),
#                crash, race on the concurrent packages, a short fuzz run
#   make bench   redis-benchmark against ferricd and the durable redis-server, side by side
#                (strings, a 3-node cluster, then collections: scripts/bench-collections.sh)
#   make docker  build bin/ferricd and the image ferricd:dev (FROM scratch, deploy/Dockerfile)
#   make cluster start a 3-node cluster of local processes on 127.0.0.1:7001-7003
#                (scripts/cluster.sh; stop it with scripts/cluster.sh stop)
GO        ?= go
BIN       := bin/ferricd
RACE_PKGS := ./internal/shard/... ./internal/cluster/... ./internal/resp/... ./internal/node/... ./internal/metrics/... ./internal/keyspace/...
# Fuzz budgets are execution counts, not durations: a duration ends with a deadline that a
# worker busy at that moment on a loaded machine misses ("context deadline exceeded"), and a
# count makes CI's work the same on a slow machine and a fast one.
FUZZ_EXECS ?= 40000
# Image built by `make docker`; its build context is staged in $(DOCKER_CTX): the binary and an
# empty data/ directory (the image's /data), nothing else.
IMAGE      ?= ferricd:dev
DOCKER_CTX := bin/docker

.PHONY: build run test lint unit race fuzz bench docs clean docker cluster

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/ferricd

run: build
	./$(BIN) $(ARGS)

test: lint unit race fuzz

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run ./cmd/gendocs -check

unit:
	$(GO) test -count=1 -timeout 20m ./...

race:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 15m $(RACE_PKGS)

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParser$$' -fuzztime=$(FUZZ_EXECS)x ./internal/resp
	$(GO) test -run='^$$' -fuzz='^FuzzMatch$$' -fuzztime=$(FUZZ_EXECS)x ./internal/glob
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeMeta$$' -fuzztime=$(FUZZ_EXECS)x ./internal/keyspace

bench: build
	./scripts/bench.sh
	[ "$${BENCH_COLLECTIONS:-yes}" = no ] || ./scripts/bench-collections.sh

docker: build
	rm -rf $(DOCKER_CTX)
	mkdir -p $(DOCKER_CTX)/data
	cp $(BIN) $(DOCKER_CTX)/ferricd
	docker build -f deploy/Dockerfile -t $(IMAGE) $(DOCKER_CTX)

cluster: build
	./scripts/cluster.sh start

docs:
	$(GO) run ./cmd/gendocs

clean:
	rm -rf bin
