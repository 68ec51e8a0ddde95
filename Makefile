# make demo / make test each do all of their own set-up on a fresh Debian machine:
# a .venv with brandsweep installed, and a Chromium found or installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench browser clean

demo: $(STAMP) browser
	$(BIN)/brandsweep demo

test: $(STAMP) browser lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP) browser
	$(BIN)/python bench/fixture_server.py
	$(BIN)/python bench/sweep_http.py
	$(BIN)/python bench/sweep_browser.py
	$(BIN)/python bench/rules_eval.py
	$(BIN)/python bench/images.py

# fast when a browser is already there; installs one (apt-get as root) when not
browser: $(STAMP)
	@$(BIN)/brandsweep browser --install >/dev/null

# reinstall only when the project's dependencies change
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
