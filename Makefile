# Two commands on a fresh machine with only Python: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint fmt schema clean totp bench

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt '.[dev,local]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m config.launcher run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m config.launcher test

# Figures of this machine in one table (docs/performance.md): `make bench BENCH_ARGS="--seconds 20
# --cases 20000"`. Its own database on DATABASE_URL's server (the embedded one when unset), dropped after.
bench: $(STAMP)
	$(BIN)/python -m config.launcher bench $(BENCH_ARGS)

totp: $(STAMP)
	@$(BIN)/python -m config.launcher totp

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(STAMP)
	SECRET_KEY=schema FIELD_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= IDENTIFIER_HASH_KEY=schema-only-placeholder-not-a-secret-00 DATABASE_URL=postgres://unused/x REDIS_URL=redis://unused $(BIN)/python manage.py spectacular --file openapi.yaml --validate

clean:
	rm -rf $(VENV) build *.egg-info
