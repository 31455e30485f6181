# Two commands on a fresh machine with only Python: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install catalogues messages run test browser lint fmt schema clean totp manage bench chaos soak fuzz security migrations-history

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt '.[dev,local]'
	touch $(STAMP)

install: $(STAMP) catalogues

# The translation catalogues (<app>/locale/*/LC_MESSAGES/django.po) compiled to .mo, in Python.
catalogues: $(STAMP)
	$(BIN)/python -m config.catalogues

# After changing or adding translatable text: updates every app's es and mn catalogues, in Python
# (Babel); then `make test` says what is untranslated (docs/languages.md).
messages: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL=postgres://unused/unused REDIS_URL=redis://unused \
		$(BIN)/python -m config.messages

run: $(STAMP) catalogues
	$(BIN)/python -m config.launcher run

# Security checks (docs/security-checks.md): bandit, import-linter layer contracts, pip-audit. Where
# neither PyPI's per-release JSON API nor OSV answers (this project's machines), pip-audit prints NOT
# AUDITED and passes only because of this setting; PIP_AUDIT_OFFLINE_OK=0 makes it fail.
PIP_AUDIT_OFFLINE_OK ?= 1

security: $(STAMP)
	PIP_AUDIT_OFFLINE_OK=$(PIP_AUDIT_OFFLINE_OK) $(BIN)/python -m config.checks

# The console's browser tests drive Debian's Chromium (config/browser.py): installed here when missing
# (as root or with password-less sudo), else this fails naming the command to run.
browser: $(STAMP)
	$(BIN)/python -m config.browser

test: $(STAMP) catalogues security browser
	$(BIN)/ruff check .
	$(BIN)/python -m config.launcher test -m "not migration_history"

# The data migrations of the past walked back from today's schema and forward again (docs/testing.md);
# minutes each, growing with every new migration, so outside `make test`. Run after changing a model
# that an old data migration touches, and before a release.
migrations-history: $(STAMP) catalogues
	$(BIN)/python -m config.launcher test -p no:cacheprovider -m migration_history

# Figures of this machine in one table (docs/performance.md): `make bench BENCH_ARGS="--seconds 20
# --cases 20000"`. Its own database on DATABASE_URL's server (the embedded one when unset), dropped after.
bench: $(STAMP) catalogues
	$(BIN)/python -m config.launcher bench $(BENCH_ARGS)

# Real processes killed and restarted mid-work, long versions (docs/testing.md, "Chaos"); the short
# versions run in `make test`.
chaos: $(STAMP) catalogues
	CHAOS_LONG=1 $(BIN)/python -m config.launcher test -s -p no:cacheprovider \
		tests/test_chaos_agency_delivery_survives_worker_kill.py tests/test_chaos_database_restart.py \
		tests/test_chaos_web_worker_killed_mid_request.py tests/test_inbound_survives_worker_and_broker_failures.py \
		tests/test_chaos_nothing_lost_while_the_database_is_down.py \
		tests/test_chaos_notification_email_survives_worker_kill.py

# The API fuzzed against its own OpenAPI schema with many more examples and a fresh seed
# (docs/testing.md); the seed is printed at the end: `FUZZ_SEED=<seed> make fuzz` replays the run.
FUZZ_EXAMPLES ?= 200
FUZZ_SEED ?= random

fuzz: $(STAMP) catalogues
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) $(BIN)/python -m config.launcher test -p no:cacheprovider \
		tests/test_api_matches_its_schema.py

# Ten minutes of mixed traffic at 5x the largest helpline's peak; memory flat, errors 0 (docs/testing.md
# "Soak"): `make soak SOAK_ARGS="--minutes 30"`. Its own database on DATABASE_URL's server, dropped after.
soak: $(STAMP) catalogues
	$(BIN)/python -m config.launcher soak $(SOAK_ARGS)

# Any manage.py command on the data `make run` uses: `make manage ARGS="verify_audit"`.
manage: $(STAMP) catalogues
	$(BIN)/python -m config.launcher manage $(ARGS)

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
