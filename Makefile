# The two commands a newcomer needs: `make demo` and `make test`.
# Both set up their own virtualenv on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration e2e crd cluster-up cluster-down image checkov clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/aurora-upgrade demo

test: lint typecheck unit integration e2e

lint: $(STAMP)
	$(BIN)/ruff check operator tests
	$(BIN)/ruff format --check operator tests

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
	$(BIN)/python -m aurora_upgrade.devenv.controlplane up

cluster-down: $(STAMP)
	$(BIN)/python -m aurora_upgrade.devenv.controlplane down

# The image from the Dockerfile, built with buildah on a Debian base made locally (no registry,
# no daemon); installs mmdebstrap, buildah, podman and runc when missing. IMAGE, IMAGE_STORE and
# IMAGE_BASE (e.g. IMAGE_BASE=python:3.11-slim) override its defaults: see docs/install.md.
image:
	tools/image/image.sh build

# checkov lives in its own virtualenv: its pinned boto3 is not the operator's.
CHECKOV := .local/checkov/bin/checkov
$(CHECKOV): tools/checkov/requirements.txt
	$(PYTHON) -m venv .local/checkov
	.local/checkov/bin/pip install --quiet -r tools/checkov/requirements.txt
	touch $(CHECKOV)

checkov: $(CHECKOV)

# A build or container killed midway can leave the image store's overlay mounts behind.
clean:
	findmnt -rn -o TARGET | grep -F '$(CURDIR)/.local/' | sort -r | xargs -r umount
	rm -rf $(VENV) .local
