# yrdchain — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint install browser compose-v1 promtool wrk contracts bench-core bench-sig \
	bench-commit bench-query bench-peers bench-receipts bench-load bench-engine peers-install clean \
	chaos

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# make demo [BASE_PORT=8600] [KEEP=1]: node i listens on BASE_PORT+i (default: a free block);
# KEEP=1 keeps the nodes up after the story, with their URLs, until Ctrl-C.
BASE_PORT ?=
KEEP ?=

demo: $(STAMP)
	$(VENV)/bin/yrdchain demo $(if $(BASE_PORT),--base-port $(BASE_PORT)) $(if $(KEEP),--keep-running)

lint: $(STAMP)
	$(VENV)/bin/ruff check chain nodes contracts simulator benchmarks tests
	$(VENV)/bin/mypy chain
	$(VENV)/bin/lint-imports

browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver)

# Compose v1 (Debian's docker-compose 1.29): tests/nodes/test_compose.py checks the file with it.
compose-v1:
	command -v docker-compose >/dev/null || (apt-get update && apt-get install -y --no-install-recommends docker-compose)

# promtool (Debian's prometheus package) lints /metrics in tests/nodes/test_metrics.py.
promtool:
	command -v promtool >/dev/null || (apt-get update && apt-get install -y --no-install-recommends prometheus)

# The HTTP load generator of bench-query and bench-peers (Debian package).
wrk:
	command -v wrk >/dev/null || (apt-get update && apt-get install -y --no-install-recommends wrk)

test: lint browser compose-v1 promtool wrk peers-install
	YRD_REQUIRE_TOOLS=1 $(PY) -m pytest -q -p no:cacheprovider

contracts: $(STAMP)
	$(PY) -m contracts.build

# Long adversarial runs (tests/adversarial/): ten minutes of schemathesis plus the raw-bytes
# fuzzer against a local4 network, three minutes of the peer-channel fuzzer, then ten kill-all
# cycles under load. Ports CHAOS_BASE_PORT to CHAOS_BASE_PORT+199 (27200-27399).
CHAOS_MINUTES ?= 10
CHAOS_PEER_MINUTES ?= 3
CHAOS_CYCLES ?= 10
CHAOS_SEED ?= 7
CHAOS_BASE_PORT ?= 27200

chaos: $(STAMP)
	$(PY) -m tests.adversarial.chaos_fuzz --minutes $(CHAOS_MINUTES) --seed $(CHAOS_SEED) --base-port $(CHAOS_BASE_PORT)
	$(PY) -m tests.adversarial.peer_fuzzer --own-network --seconds $$(( $(CHAOS_PEER_MINUTES) * 60 )) --seed $(CHAOS_SEED) --base-port $$(( $(CHAOS_BASE_PORT) + 180 ))
	$(PY) -m tests.adversarial.kill_all --cycles $(CHAOS_CYCLES) --seed $(CHAOS_SEED) --base-port $$(( $(CHAOS_BASE_PORT) + 100 ))

bench-core: $(STAMP)
	$(PY) -m benchmarks.core

bench-engine: $(STAMP)
	$(PY) -m benchmarks.engine

# Benchmarks (see benchmarks/README.md). bench-query: PRESET=local4|yrd-2021, SIZE=default,
# SEED=1, BENCH_SECONDS=60, USERS=32, WORKERS=0 (Locust worker processes on this machine),
# LATENCY=none|regional (with TARGET: the model the target network was started with).
# TARGET="http://host:8600 …" (every node's URL): bench-commit, bench-query and bench-load use
# that running network instead of starting one.
TARGET ?=
PRESET ?= local4
SIZE ?= default
SEED ?= 1
BENCH_SECONDS ?= 60
USERS ?= 32
WORKERS ?= 0
LATENCY ?= none

bench-query: $(STAMP) wrk
	$(PY) -m benchmarks.query --preset $(PRESET) --size $(SIZE) --seed $(SEED) \
		--seconds $(BENCH_SECONDS) --users $(USERS) --workers $(WORKERS) --latency $(LATENCY) \
		$(if $(TARGET),--target $(TARGET))
	$(PY) -m benchmarks.wrk_rounds --no-peers --rounds $(ROUNDS) --seconds $(ROUND_SECONDS)

bench-sig: $(STAMP)
	$(PY) -m benchmarks.sig

bench-commit: $(STAMP)
	$(PY) -m benchmarks.commit $(if $(TARGET),--target $(TARGET))

# bench-peers: interleaved wrk rounds, ours against Hardhat and ganache (ROUNDS, ROUND_SECONDS);
# bench-receipts: eth_sendRawTransaction to receipt on each (Python driver).
ROUNDS ?= 5
ROUND_SECONDS ?= 10
bench-peers: $(STAMP) peers-install wrk
	$(PY) -m benchmarks.wrk_rounds --rounds $(ROUNDS) --seconds $(ROUND_SECONDS)

bench-receipts: $(STAMP) peers-install
	$(PY) -m benchmarks.peers

# Builds the data set snapshot only (SIZE=full: 100,000 enterprises, 1,000,000 records; hours),
# or with TARGET loads it into that running network.
bench-load: $(STAMP)
	$(PY) -m benchmarks.dataset --preset $(PRESET) --size $(SIZE) --seed $(SEED) \
		$(if $(TARGET),--target $(TARGET))

# Hardhat and ganache for bench-peers; `npm ci` runs only when package-lock.json changed.
peers-install:
	@if command -v npm >/dev/null; then \
		[ benchmarks/peers/node_modules/.package-lock.json -nt benchmarks/peers/package-lock.json ] \
		|| (cd benchmarks/peers && npm ci --no-audit --no-fund --loglevel=error) \
		|| echo "npm ci failed: the peers benchmark test will fail under make test"; \
	else echo "npm not found: the peers benchmark test will fail under make test"; fi

clean:
	rm -rf $(VENV) build *.egg-info
