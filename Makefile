# twin — make targets. `make test` is what CI runs (.ci/run).
GO        ?= go
PKGS      := ./...
BIN       := bin/twin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 20s
DEMO_DIR  ?= /tmp/twin-demo

DATA      ?= $(abspath ../shared/data)

.PHONY: all build test race lint fuzz bench bench-ann bench-lsh demo clean \
	experiment-trainer experiment-retrieval experiment-entitymatch

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/twin

# Unit, golden, fuzz-seed, oracle and crash tests. Tests that need
# ../shared/data skip with a message when it is absent.
test:
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) test -count=1 -timeout 20m $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Run every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Benchmarks and long experiments; results are recorded in bench/RESULTS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./encoder/ ./index/ ./lsh/ ./trainer/ | tee bench/last-bench.txt

# Long runs behind their own targets (minutes each; one at a time on 2 cores).
bench-ann:
	$(GO) run ./bench/ann -data $(DATA)/ann -name gmm100k -repeat 5 -plot bench/ann-recall-qps.png

bench-lsh:
	$(GO) run ./bench/lsh -mode synth -n 100000 -oracle

experiment-trainer:
	DATA=$(DATA) ./scripts/experiment-trainer.sh all

experiment-retrieval:
	DATA=$(DATA) ./scripts/experiment-retrieval.sh

experiment-entitymatch:
	$(GO) run ./bench/entitymatch -data $(DATA) -steps 600

demo: build
	DEMO_DIR=$(DEMO_DIR) ./scripts/demo.sh

clean:
	rm -rf bin
