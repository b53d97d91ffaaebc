# The two commands a newcomer needs: `make demo` and `make test`.
# Both set up their own virtualenv on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration e2e crd cluster-up cluster-down clean

$(STAMP): pyproject.toml tools/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e tools
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/aurora-upgrade demo

test: lint typecheck unit integration e2e

lint: $(STAMP)
	$(BIN)/ruff check operator tools tests
	$(BIN)/ruff format --check operator tools tests

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

crd: $(STAMP)
	$(BIN)/aurora-upgrade crd > crds/auroraupgrades.dbupgrade.dev.yaml
	cp crds/auroraupgrades.dbupgrade.dev.yaml charts/aurora-upgrade-operator/crds/

cluster-up: $(STAMP)
	$(BIN)/python -m aurora_upgrade_dev.controlplane up

cluster-down: $(STAMP)
	$(BIN)/python -m aurora_upgrade_dev.controlplane down

clean:
	rm -rf $(VENV) .local
