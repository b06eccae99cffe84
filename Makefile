# Two commands do all the set-up on a fresh machine:
#   make demo   — the perimeter with its embedded defaults and a simulated SaaS estate
#   make test   — the whole test suite (lint + types + pytest)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean venv

venv: $(STAMP)

# Re-install only when pyproject.toml changes; fast when the venv is already there.
$(STAMP): pyproject.toml $(wildcard csrc/*/*.c)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m ringfence.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test: lint typecheck pytest

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .ringfence .pytest_cache .mypy_cache .ruff_cache
