# Every target sets up .venv itself: `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
# Two stamps: serving needs only the runtime dependencies, the tests and linters the dev
# extra on top. `make run` on a fresh clone installs no test or lint tool.
RUN_STAMP = $(VENV)/.runtime-stamp
DEV_STAMP = $(VENV)/.dev-stamp
# Downloads the suite may use, outside the repository's tracked files (see docs/testing.md).
CACHE ?= .cache
# Twilio's OpenAPI files ship in this npm package, under src/services/twilio-api/; the
# checksum pins twilio_flex_v1.json (same paths and schemas as ../shared/reference).
CLI_CORE = @twilio/cli-core@9.0.0
FLEX_V1_SHA256 = ea1db919b6ccc106a1b40807965c867fbf13cd82771486de8c9e305d26bac177
REFERENCE = $(CACHE)/twilio-api
# Two pytest workers: most tests wait on a server, a socket or the database, so the suite
# takes about half as long on two cores (8 min -> 4.5 min on this machine kind).
# `make test PYTEST_ARGS=` runs it in one process.
PYTEST_ARGS ?= -n 2

.PHONY: run test lint check bench reference clients clean browser

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

run: $(RUN_STAMP)  ## start the server on ./flexchat.db (SQLite); installs only what serving needs
	$(BIN)/flexchat serve $(ARGS)

test: $(DEV_STAMP)  ## the whole test suite (PostgreSQL tests need FLEXCHAT_TEST_POSTGRES_URL or a local server)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)  ## ruff and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

check: lint test

# Where ../shared/reference is absent (a fresh clone): Twilio's OpenAPI files from npm,
# for the conformance tests, which look in $(REFERENCE) after ../shared/reference.
reference: $(REFERENCE)/twilio_flex_v1.json  ## fetch Twilio's OpenAPI spec (npm package @twilio/cli-core)

$(REFERENCE)/twilio_flex_v1.json:
	command -v npm >/dev/null || { echo "make reference needs npm (Node.js)" >&2; exit 1; }
	rm -rf $(CACHE)/cli-core && mkdir -p $(CACHE)/cli-core $(REFERENCE)
	npm pack --silent --pack-destination $(CACHE)/cli-core $(CLI_CORE) >/dev/null
	tar -xzf $(CACHE)/cli-core/*.tgz -C $(CACHE)/cli-core
	echo "$(FLEX_V1_SHA256)  $(CACHE)/cli-core/package/src/services/twilio-api/twilio_flex_v1.json" | sha256sum -c --quiet
	cp $(CACHE)/cli-core/package/src/services/twilio-api/*.json $(REFERENCE)/
	rm -rf $(CACHE)/cli-core

# twilio-node and twilio-cli, for the client pages' examples (docs/clients/); the test
# fixture runs this same step when it finds them missing.
clients:  ## install the Node.js clients the docs' examples use into $(CACHE)/node
	FLEXCHAT_CACHE_DIR=$(CACHE) $(PYTHON) -m tests.node_clients install

# The console's browser tests need Chromium: Debian's package, never a browser download
# (playwright from PyPI fetches no browser unless `playwright install` is run; nothing runs it).
browser:  ## install Debian's chromium for the console's browser tests (needs root)
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

# Not part of `test`: seeds 1,000,000 channels per engine, measures granian and uvicorn
# side by side and Prism (npm installs it into ~/.cache/flexchat-bench on first use;
# skipped without node), ~25 minutes. BENCH_CHANNELS=20000 for a quick run;
# BENCH_ARGS="--engines sqlite" and the like.
bench: $(DEV_STAMP)  ## benchmark suite and performance budget (see docs/benchmarks.md)
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/overload.py  # admitted latency while an account is refused (issue 12)
	$(BIN)/python bench/chat.py  # the conversation: message list, create with a webhook, the outbox (issue 8)
	$(BIN)/python bench/double.py  # flexchat.testing per call and per fresh client, against the twilio client alone (issue 9)

clean:
	rm -rf $(VENV) $(CACHE) .pytest_cache .mypy_cache .ruff_cache
