# The README's two commands: `make run` (the dashboard) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgresql://root@127.0.0.1:5432/gleif_test
PORT ?= 8501

.PHONY: run test lint format migrate demo clean screenshots

run: $(VENV)/.runtime
	$(BIN)/python -m gleif_data migrate
	$(BIN)/python -m gleif_data demo --if-empty
	$(BIN)/streamlit run app.py --server.port $(PORT)

test: $(VENV)/.dev
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest

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

$(VENV)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Refresh the README's screenshots (docs/screenshots/) from the browser test.
screenshots: $(VENV)/.dev
	GLEIF_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/test_browser.py tests/test_browser_domain.py
