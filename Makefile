# The two commands of the README: `make dev` starts the whole product, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: dev test fuzz lint format migrate worker clean lock check-lock

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("Voxtro needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Exactly the versions (and files: hashes) of requirements.lock, again whenever it changes; the
# project itself goes in editable, its dependencies already there.
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

# Fails when pyproject.toml's dependencies changed and the locks were not written again.
check-lock: | $(BIN)/python
	@$(BIN)/python scripts/lock.py --check

# Writes requirements.lock and requirements-prod.lock for what pyproject.toml declares now, keeping
# the pins that still fit; `make lock UPGRADE=1` moves every dependency to its newest release.
lock: $(VENV)/.installed
	$(BIN)/python scripts/lock.py $(if $(UPGRADE),--upgrade)

dev: check-lock $(VENV)/.installed
	$(BIN)/voxtro dev

test: check-lock $(VENV)/.installed
	$(BIN)/python -m pytest

# The whole API under many more generated requests than `make test` sends (tests/test_api_fuzz.py).
FUZZ_EXAMPLES ?= 200
fuzz: $(VENV)/.installed
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/test_api_fuzz.py -x

lint: $(VENV)/.installed
	$(BIN)/ruff check backend tests bench scripts
	$(BIN)/ruff format --check backend tests bench scripts
	$(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff format backend tests bench scripts
	$(BIN)/ruff check --fix backend tests bench scripts

migrate: $(VENV)/.installed
	$(BIN)/voxtro migrate

worker: $(VENV)/.installed
	$(BIN)/voxtro worker

clean:
	rm -rf $(VENV)
