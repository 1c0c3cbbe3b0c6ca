# Every target sets up .venv itself: `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed-stamp

.PHONY: run test lint check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## start the server on ./flexchat.db (SQLite)
	$(BIN)/flexchat serve $(ARGS)

test: $(STAMP)  ## the whole test suite (PostgreSQL tests need FLEXCHAT_TEST_POSTGRES_URL or a local server)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

check: lint test

# Not part of `test`: seeds 1,000,000 channels per engine and takes ~11 minutes.
# BENCH_CHANNELS=20000 for a quick run; BENCH_ARGS="--engines sqlite" and the like.
bench: $(STAMP)  ## benchmark suite and performance budget (see docs/benchmarks.md)
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/overload.py  # admitted latency while an account is refused (issue 12)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
