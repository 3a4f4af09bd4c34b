# redisctl: the two commands that matter are `make demo` and `make test`.
# Both install what they need from Debian when run as root on a fresh machine.

GO      ?= go
SHELL   := /bin/bash
LAB     := testdata/lab/lab.sh
export REDISCTL_LAB_STATE ?= $(CURDIR)/.lab
export REDISCTL_CACHE     ?= $(CURDIR)/.cache
IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)

.PHONY: build test unit lab-test lab-up lab-down lab-status demo bench deps redis-bin fmt vet clean

build:
	$(GO) build -o bin/redisctl ./cmd/redisctl

# deps installs the Debian packages the lab and the tests need (root only).
deps:
	@if [ "$(IS_ROOT)" = yes ]; then bash testdata/lab/deps.sh; \
	else echo "deps: not root; skipping package installation"; fi

# redis-bin builds redis-server from the cached Debian source tarball on this
# machine, for the tests that start a real server on a rendered config.
redis-bin: deps
	bash testdata/redis-bin.sh

vet:
	$(GO) vet ./...

unit: vet redis-bin
	$(GO) test -race -count=1 ./...

lab-up: deps
	bash $(LAB) up

lab-down:
	bash $(LAB) down

lab-status:
	bash $(LAB) status

# lab-test runs the end-to-end tests on the three-host lab, once per host
# kind (testdata/lab/passes.sh: sysv, systemd, mixed; LAB_PASSES="sysv"
# runs one, RUN=regexp limits the tests). They need root (namespaces,
# mounts); elsewhere they are skipped, and this says so loudly.
lab-test: build deps
	@if [ "$(IS_ROOT)" = yes ]; then \
		RUN='$(RUN)' bash testdata/lab/passes.sh $(LAB_PASSES); \
	else \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
		echo "!! LAB TESTS SKIPPED: not root. The three-host lab needs root for     !!"; \
		echo "!! network namespaces and mounts. Run 'sudo make test' to run them.   !!"; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	fi

test: unit lab-test

demo: build lab-up
	bash testdata/demo.sh

# bench measures issue 13's figures on the lab (root only; elsewhere it says
# so loudly): fresh up with cached binaries, no-change up, status and writes
# held in a rolling restart, BENCH_RUNS times each (default 5), on 3 hosts and
# on 15 (BENCH_HOSTS15=0: 3 only). Prints MEASURE lines and a markdown table.
bench: build deps
	bash testdata/bench.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean: lab-down
	rm -rf bin
