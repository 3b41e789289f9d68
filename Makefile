# Everyday entry points. `make install` builds .venv only when it is missing or the
# pinned requirements changed; `make test` and `make bench` build on it.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Python >= 3.12: .python-version selects it through pyenv; else the first python3.12.
PYTHON ?= $(shell command -v python3.12 2>/dev/null || echo python3)
# Offline machines: the rupture files beside the project, unless the variable is set.
export BNN_BENCH_DATA_DIR ?= $(if $(wildcard ../shared/data/rupture/rupturemodel_test.txt),$(abspath ../shared/data/rupture),)
BASE ?= HEAD~1
# The 20 slowest tests are listed after each run: where the suite's time goes, in every CI log.
PYTEST_ARGS ?= --durations=20
# `make test` runs the tests in one process per core (pytest-xdist, at most 4: each holds
# ~3.5 GB of compiled functions); tests that share a fixture stay in one process
# (tests/conftest.py), and the groups go out longest first by tests/group_durations.json
# (rewrite it: make test PYTEST_ARGS=--store-group-durations, cold caches as in CI).
# TEST_WORKERS=0: one process, in order. pytest stays at 9.1.1 until
# pytest-xdist fixes #1386 (under pytest 9.2, --dist loadgroup silently groups nothing).
TEST_WORKERS ?= logical
PYTEST_PARALLEL = --numprocesses=$(TEST_WORKERS) --maxprocesses=4 --dist loadgroup --no-loadscope-reorder

.PHONY: install test test-slow bench bench-quick results-rupture results-rupture-methods results-scaling results-shift results-coverage results-sbc lint asv asv-compare asv-publish baseline ci-methods check clean

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "bnn-bench needs Python >= 3.12, .venv has " + sys.version.split()[0])'
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@$(PY) -c 'import pymc, pytensor, arviz, nutpie; print(f"installed: pymc {pymc.__version__}, pytensor {pytensor.__version__}, arviz {arviz.__version__}, nutpie {nutpie.__version__}")'
	@touch $(STAMP)

install: $(STAMP)

# The README's test command, and CI's: every fast test (the browser test skips itself
# when chromium is absent; .ci/run installs it).
test: install
	$(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

test-slow: install
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

# Your runs: into runs/ (git-ignored), never over the committed reports.
# The design card's three methods, one seed (minutes); `bnn-bench run` alone fits every method.
BENCH_METHODS ?= nuts,advi,fullrank_advi
bench: install
	$(VENV)/bin/bnn-bench run --methods $(BENCH_METHODS) --out runs/rupture

bench-quick: install
	$(VENV)/bin/bnn-bench run --quick --out runs/quick

# The committed report results/rupture: 5 seeds of NUTS, ADVI and full-rank ADVI, fidelity against the
# reference posterior (built first when not cached, ~10 min), from a clean tree so that
# the recorded commit names code anyone can check out.
RESULTS_SEEDS ?= 5
results-rupture: install
	@git diff --quiet HEAD || { echo "results-rupture: commit your changes first (the run records the commit)"; exit 1; }
	$(VENV)/bin/bnn-bench reference --dataset rupture
	$(VENV)/bin/bnn-bench run --methods nuts,advi,fullrank_advi --seeds $(RESULTS_SEEDS) --out results/rupture --no-progress

# The committed comparison of every registered method: 3 seeds each (~1.5 h on 2 cores).
results-rupture-methods: install
	@git diff --quiet HEAD || { echo "results-rupture-methods: commit your changes first (the run records the commit)"; exit 1; }
	$(VENV)/bin/bnn-bench reference --dataset rupture
	$(VENV)/bin/bnn-bench run --methods all --seeds 3 --out results/rupture-methods --no-progress

# The committed cost-growth report results/scaling: nuts, advi and full-rank ADVI over training
# rows (400 -> 25,600) and hidden width (4 -> 96) on the teacher data (grids/scaling.toml).
# Timings: run it with nothing else on the machine.
results-scaling: install
	@git diff --quiet HEAD || { echo "results-scaling: commit your changes first (the run records the commit)"; exit 1; }
	$(VENV)/bin/bnn-bench sweep grids/scaling.toml --out results/scaling --scheduler serial --no-progress

# Issue 12's committed runs: uncertainty under shift, coverage of the truth, SBC.
results-shift: install
	@git diff --quiet HEAD || { echo "results-shift: commit your changes first"; exit 1; }
	$(VENV)/bin/bnn-bench sweep grids/shift.toml --out results/shift --scheduler serial --no-progress

results-coverage: install
	@git diff --quiet HEAD || { echo "results-coverage: commit your changes first"; exit 1; }
	for s in 0 1 2 3 4; do $(VENV)/bin/bnn-bench reference --dataset teacher --data-seed $$s --n-train 1600 || exit 1; done
	$(VENV)/bin/bnn-bench sweep grids/coverage.toml --out results/coverage --scheduler serial --no-progress

results-sbc: install
	@git diff --quiet HEAD || { echo "results-sbc: commit your changes first"; exit 1; }
	$(VENV)/bin/bnn-bench sbc --methods advi,fullrank_advi --sims 100 --out results/sbc --resume --no-progress
	$(VENV)/bin/bnn-bench sbc --methods nuts --sims 30 --out results/sbc --resume --no-progress

lint: install
	$(VENV)/bin/ruff check bnn_models benchmarks tests studies
	$(VENV)/bin/ruff format --check bnn_models benchmarks tests studies
	$(VENV)/bin/mypy

# asv: BNN_BENCH_PROFILE=quick (default: small fits, CI) or full (the real configuration).
# `make asv` runs the suite in .venv and keeps the results under .asv/ for `make asv-publish`;
# `make asv-compare BASE=<rev>` builds BASE and HEAD in .asv/env and compares the timings
# side by side (ASV_BENCH: which benchmarks; ASV_FACTOR: the ratio that counts as a change).
ASV := $(VENV)/bin/asv
ASV_FACTOR ?= 2
ASV_BENCH ?= ^(ops|scaling)\.
export BNN_BENCH_PROFILE ?= quick

asv: install
	@$(ASV) machine --yes > /dev/null
	commit=$$(git rev-parse HEAD) && \
	  $(ASV) run --python=same --show-stderr --set-commit-hash $$commit $(ASV_ARGS) && \
	  $(PY) -m benchmarks._units $$commit

asv-compare: install
	@$(ASV) machine --yes > /dev/null
	$(ASV) continuous --factor $(ASV_FACTOR) --split --show-stderr -b '$(ASV_BENCH)' $(BASE) HEAD

asv-publish: install
	$(ASV) publish
	@echo "dashboard: .asv/html/index.html (serve it with: $(ASV) preview)"

# The regression gate: `make baseline` measures the seed spread of the quick profile and
# writes results/baseline_quick.json: every installed method on BASELINE_SEEDS, and the
# methods CI gates (CI_METHODS) on EXTRA_SEEDS too, so their tolerances come from 10 seeds.
# `make check` gates a fresh run on it. A fit that fails (Laplace at an indefinite Hessian)
# is recorded in the baseline as an expected failure, so its run's exit status (1) must not
# stop the target: hence the '-' before each run.
BASELINE ?= results/baseline_quick.json
BASELINE_SEEDS ?= 0,1,2
EXTRA_SEEDS ?= 3,4,5,6,7,8,9
# The methods CI benchmarks and gates (.ci/run reads them from `make -s ci-methods`): all
# but the four alternative NUTS engines (PyMC's, NumPyro, BlackJAX, nutpie low-rank), which
# sample the same posterior as nutpie's NUTS and whose quick fits take 1-3 minutes each
# (JAX compilation, PyMC's Python loop, more steps) against seconds for the others.
# `make test` still fits every method (tests/test_methods.py), so an engine that breaks
# fails CI there.
CI_METHODS ?= nuts,mclmc,smc,advi,fullrank_advi,pathfinder,laplace,svgd,ensemble
# The uncertainty baselines gate the design card's methods under the bump-height shift
# (shift AUROC, shifted log loss) and on the teacher data (interval coverage), 10 seeds.
UNCERTAINTY_METHODS ?= nuts,advi,fullrank_advi
UNCERTAINTY_SEEDS ?= 10
RUN_BASELINE = $(VENV)/bin/bnn-bench run --quick --reference none --no-report --no-progress
baseline: install
	-$(RUN_BASELINE) --methods all --seeds $(BASELINE_SEEDS) --out .bnn_cache/baseline-quick
	-$(RUN_BASELINE) --methods $(CI_METHODS) --seeds $(EXTRA_SEEDS) --out .bnn_cache/baseline-quick-ci
	$(VENV)/bin/bnn-bench check --write-baseline --baseline $(BASELINE) --run .bnn_cache/baseline-quick --run .bnn_cache/baseline-quick-ci
	-$(RUN_BASELINE) --shift bump-height --methods $(UNCERTAINTY_METHODS) --seeds $(UNCERTAINTY_SEEDS) --out .bnn_cache/baseline-shift
	$(VENV)/bin/bnn-bench check --write-baseline --baseline results/baseline_shift_quick.json --run .bnn_cache/baseline-shift
	-$(RUN_BASELINE) --dataset teacher --methods $(UNCERTAINTY_METHODS) --seeds $(UNCERTAINTY_SEEDS) --out .bnn_cache/baseline-teacher
	$(VENV)/bin/bnn-bench check --write-baseline --baseline results/baseline_teacher_quick.json --run .bnn_cache/baseline-teacher

ci-methods:
	@echo $(CI_METHODS)

check: install
	$(VENV)/bin/bnn-bench check --baseline $(BASELINE)

clean:
	rm -rf $(VENV) .asv .pytest_cache
