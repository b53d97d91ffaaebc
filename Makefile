# The two commands a newcomer needs: `make demo` and `make test`.
# Both set up their own virtualenv on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHECKOV := $(VENV)/checkov/bin/checkov

.PHONY: demo test reliability bench lint typecheck static unit sim integration kopf e2e crd chart-readme prometheus postgresql checkov image cluster-up cluster-down clean

$(STAMP): pyproject.toml tools/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e tools
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/aurora-upgrade demo

# The test tiers, fastest first (docs/design.md, "Tests"); `make test` runs every one, even after a
# failure, and prints each one's wall time at the end.
TIERS := lint typecheck static unit sim integration kopf e2e
test: $(STAMP)
	@MAKE='$(MAKE)' tools/tiers.sh $(TIERS)

# The benchmarks (bench/), judged against issue 20's targets: numbers, not pass/fail, so not part
# of `make test`. Writes docs/benchmarks.md, docs/benchmarks/*.png and the operator's py-spy profile
# at N=500 (docs/benchmarks/profile-n500.svg) from one run; about 20 minutes on 2 cores.
# `python -m bench --quick --out DIR/benchmarks.md` (PYTHONPATH=tests) runs N=10 only.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]' -e tools
	touch $(BENCH_STAMP)

# The operator runs from an environment of its own with only its runtime dependencies, as in its
# image: the development environment's packages (the kubernetes client, which kopf imports when
# it is installed) would count in its RSS.
OPERATOR_VENV := $(VENV)/operator
$(OPERATOR_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(OPERATOR_VENV)
	$(OPERATOR_VENV)/bin/pip install --quiet --upgrade pip
	$(OPERATOR_VENV)/bin/pip install --quiet -e .
	touch $@

bench: $(BENCH_STAMP) $(OPERATOR_VENV)/.installed
	PYTHONPATH=tests $(BIN)/python -m bench --operator-python $(OPERATOR_VENV)/bin/python

lint: $(STAMP)
	$(BIN)/ruff check operator tools tests bench
	$(BIN)/ruff format --check operator tools tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The repository's files held to the code and to the tools that judge them (docs, chart, alerts,
# IAM policy, Dockerfile, GitOps health script, generated files, the wheel): no simulator, no API
# server, but slower than `lint` (checkov, helm-docs, gopher-lua, a wheel build), so a tier of its own.
static: $(STAMP) prometheus checkov
	$(BIN)/pytest -q tests/static

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# The operator's handlers in this process (kopf.testing.KopfRunner) against the local control
# plane and the simulator: the daemons, wake-ups, the finalizer filter, peering hand-over (about
# a minute on 2 cores once the control plane is built).
kopf: $(STAMP)
	$(BIN)/pytest -q tests/kopf

# The simulator's own tests: it behaves as AWS documents.
sim: $(STAMP)
	$(BIN)/pytest -q tests/sim

integration: $(STAMP) postgresql
	$(BIN)/pytest -q -m 'not reliability' tests/integration


e2e: $(STAMP) prometheus postgresql
	$(BIN)/pytest -q -m 'not reliability or also_in_test' tests/e2e

# The reliability suite (faults, process deaths, failure states, bad input, HA, security), seeded;
# it writes its figures to docs/reliability.md.
RELIABILITY_RESULTS := .local/reliability/results.jsonl
reliability: $(STAMP) postgresql
	rm -f $(RELIABILITY_RESULTS)
	AURORA_UPGRADE_RELIABILITY_RESULTS=$(RELIABILITY_RESULTS) $(BIN)/pytest -q -m reliability tests/integration tests/e2e
	AURORA_UPGRADE_RELIABILITY_RESULTS=$(RELIABILITY_RESULTS) $(BIN)/python tests/support/reliability.py

# promtool and prometheus (the chart's alert tests, Prometheus scraping the operator) from Debian's
# package; its recommends would add node-exporter, a service nothing here uses.
prometheus:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; }

# PostgreSQL from Debian's package (its contrib extensions included): the database probe's tests
# start two servers of their own from its binaries (tests/support/postgres.py); nothing else uses it.
# Also pg_partman and pg_cron, extensions AWS lists as incompatible with blue/green, for the
# installed server's major version, so the tests make that condition on the real server; apt runs
# only for what is missing.
PG_EXTENSIONS := partman cron
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql postgresql-contrib; }
	@major=$$(ls /usr/lib/postgresql | sort -n | tail -1); missing=; \
	for ext in $(PG_EXTENSIONS); do \
	  dpkg -s postgresql-$$major-$$ext >/dev/null 2>&1 || missing="$$missing postgresql-$$major-$$ext"; \
	done; \
	[ -z "$$missing" ] || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; }

# checkov pins a boto3 older than ours, so it gets a virtualenv of its own, from pyproject.toml's
# `checkov` dependency group (the static tier's chart and Dockerfile tests find it beside the main
# virtualenv's packages).
$(CHECKOV): pyproject.toml $(STAMP)
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet --upgrade pip
	$(VENV)/checkov/bin/pip install --quiet --group checkov
	touch $(CHECKOV)

checkov: $(CHECKOV)

# The chart's README.md values table, from the `# --` comments in its values.yaml.
chart-readme:
	go -C tools/helm-docs tool helm-docs --chart-search-root ../../charts --skip-version-footer

crd: $(STAMP)
	$(BIN)/aurora-upgrade crd > crds/auroraupgrades.dbupgrade.dev.yaml
	cp crds/auroraupgrades.dbupgrade.dev.yaml charts/aurora-upgrade-operator/crds/
	$(BIN)/aurora-upgrade crd --markdown > docs/crd-reference.md

cluster-up: $(STAMP)
	$(BIN)/python -m aurora_upgrade_dev.controlplane up

cluster-down: $(STAMP)
	$(BIN)/python -m aurora_upgrade_dev.controlplane down

# The image from the Dockerfile, built with buildah on a Debian base made locally (no registry,
# no daemon); installs mmdebstrap, buildah, podman and runc when missing. IMAGE, IMAGE_STORE and
# IMAGE_BASE (e.g. IMAGE_BASE=python:3.11-slim) override its defaults: see docs/install.md.
image:
	tools/image/image.sh build

# A build or container killed midway can leave the image store's overlay mounts behind.
clean:
	findmnt -rn -o TARGET | grep -F '$(CURDIR)/.local/' | sort -r | xargs -r umount
	rm -rf $(VENV) .local
