# make demo / make test each do all of their own set-up on a fresh Debian machine:
# a .venv with brandsweep installed, a Chromium found or installed, and (for make test)
# Debian's redis-server found or installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(BIN)/.bench-installed

.PHONY: demo test lint bench browser redis clean

demo: $(STAMP) browser
	$(BIN)/brandsweep demo

# Two pytest workers, a test file each (its module fixtures stay in one process): most of
# the suite waits on sweeps, servers and timeouts, so two share the two cores well. Each
# worker is its own test session, with its own fixture server, Redis and browser.
TEST_WORKERS ?= 2

test: $(STAMP) browser redis lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP) $(BENCH_STAMP) browser redis
	$(BIN)/python bench/fixture_server.py
	$(BIN)/python bench/sweep_http.py --scale 20
	$(BIN)/python bench/sweep_browser.py
	$(BIN)/python bench/rules_eval.py
	$(BIN)/python bench/review_ui.py
	$(BIN)/python bench/images.py
	$(BIN)/python bench/sweep_repeat.py
	$(BIN)/python bench/store_scale.py
	$(BIN)/python bench/sweep_distributed.py
	$(BIN)/python bench/sweep_crawlee.py
	$(BIN)/python bench/evidence_shotscraper.py

# fast when a browser is already there; installs one (apt-get as root) when not
browser: $(STAMP)
	@$(BIN)/brandsweep browser --install >/dev/null

# fast when redis-server is already there; installs Debian's (apt-get as root) when not.
# The tests start their own redis-server on a free loopback port (tests/conftest.py).
redis:
	@command -v redis-server >/dev/null || { test "$$(id -u)" = 0 && command -v apt-get >/dev/null \
	  && DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2; } \
	  || { echo "Error: no redis-server: install it (Debian: apt-get install -y redis-server)" >&2; exit 2; }

# reinstall only when the project's dependencies change
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# the baselines bench/ compares against (the bench extra), on top of the package
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test,bench]'
	touch $(BENCH_STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
