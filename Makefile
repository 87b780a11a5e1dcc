# The two commands of the README: `make dev` starts the whole product, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: dev test fuzz lint format migrate worker clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("Voxtro needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalled whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

dev: $(VENV)/.installed
	$(BIN)/voxtro dev

test: $(VENV)/.installed
	$(BIN)/python -m pytest

# The whole API under many more generated requests than `make test` sends (tests/test_api_fuzz.py).
FUZZ_EXAMPLES ?= 200
fuzz: $(VENV)/.installed
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/test_api_fuzz.py -x

lint: $(VENV)/.installed
	$(BIN)/ruff check backend tests bench
	$(BIN)/ruff format --check backend tests bench
	$(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff format backend tests bench
	$(BIN)/ruff check --fix backend tests bench

migrate: $(VENV)/.installed
	$(BIN)/voxtro migrate

worker: $(VENV)/.installed
	$(BIN)/voxtro worker

clean:
	rm -rf $(VENV)
