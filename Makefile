# The README's two commands: `make run` (the dashboard) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgresql://root@127.0.0.1:5432/gleif_test
PORT ?= 8501

# The lock files pin every package with its hashes, for Python 3.11 on Linux x86_64.
LOCK_TARGET := --python-version 3.11 --python-platform x86_64-unknown-linux-gnu
# `make lock LOCK_FLAGS=--offline` resolves from uv's cache alone.
LOCK_FLAGS ?=
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes

.PHONY: run test lint format migrate demo clean screenshots lock

run: $(VENV)/.runtime
	$(BIN)/python -m gleif_data migrate
	$(BIN)/python -m gleif_data demo --if-empty
	$(BIN)/streamlit run app.py --server.port $(PORT)

test: $(VENV)/.dev
	PYTHONUNBUFFERED=1 TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: $(VENV)/.runtime
	$(BIN)/python -m gleif_data migrate

demo: $(VENV)/.runtime
	$(BIN)/python -m gleif_data demo

$(VENV)/.runtime: requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.lock
	touch $@

$(VENV)/.dev: requirements-dev.lock $(VENV)/.runtime
	$(PIP_INSTALL) -r requirements-dev.lock
	touch $@

# Rewrite the lock files from requirements*.txt (after adding or changing a pin). Versions
# already locked stay unless a pin moves them; the dev lock agrees with the runtime lock.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$$(grep -E '^uv==' requirements-dev.txt)"
	$(BIN)/uv pip compile --quiet --generate-hashes $(LOCK_TARGET) $(LOCK_FLAGS) \
		--custom-compile-command "make lock" requirements.txt -o requirements.lock
	$(BIN)/uv pip compile --quiet --generate-hashes $(LOCK_TARGET) $(LOCK_FLAGS) \
		--custom-compile-command "make lock" -c requirements.lock requirements-dev.txt \
		-o requirements-dev.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Refresh the README's screenshots (docs/screenshots/) from the browser test.
screenshots: $(VENV)/.dev
	GLEIF_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/test_browser.py tests/test_browser_explore.py tests/test_browser_review.py tests/test_browser_domain.py
