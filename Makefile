PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup dev serve test lint

$(BIN)/plexus: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(BIN)/plexus

$(BIN)/pytest: pyproject.toml $(BIN)/plexus
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/pytest

setup: $(BIN)/plexus

dev: $(BIN)/pytest

serve: setup
	$(BIN)/plexus serve --config config/plexus.yaml

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q
