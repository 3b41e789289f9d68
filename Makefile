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
# ~3.5 GB of compiled functions), each idle worker taking tests from the others (worksteal).
# What several tests share and is slow to make (each method's tiny fit, the report's saved
# run) is made once by whichever worker asks first and loaded by the others
# (tests/conftest.py: build_once). TEST_WORKERS=0: one process, in order.
TEST_WORKERS ?= logical
# A step of `make ci` that prints its own seconds: $(call step,COMMAND) (no commas).
step = t0=$$SECONDS && $(1) && echo "[ci] $(1) took $$((SECONDS - t0)) s"
PYTEST_PARALLEL = --numprocesses=$(TEST_WORKERS) --maxprocesses=4 --dist worksteal

.PHONY: install test test-slow docs bench bench-quick results results-check results-index results-rupture results-rupture-quick results-reference-floor results-rupture-methods results-scaling results-scaling-minibatch results-shift results-coverage results-sbc results-releases quotes lint asv asv-compare asv-history asv-publish baseline check ci ci-checks ci-asv clean

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

# The documentation site (Sphinx, MyST, pydata-sphinx-theme), warnings as errors: the
# methods, metrics, datasets and studies pages are generated from the code at each build.
docs: install
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

# Your runs: into runs/ (git-ignored), never over the committed reports.
# The design card's three methods (the `design` set of bnn_models.inference.METHOD_SETS),
# one seed (minutes); `bnn-bench run` alone fits every method.
BENCH_METHODS ?= design
bench: install
	$(VENV)/bin/bnn-bench run --methods $(BENCH_METHODS) --out runs/rupture

bench-quick: install
	$(VENV)/bin/bnn-bench run --quick --out runs/quick

# Every committed result at one commit: the steps of results/pipeline.toml in order
# (references, rupture, rupture-quick, the gate's baselines, coverage, shift, scaling,
# SBC, every method, the studies that set a default), each command timed and recorded in
# results/pipeline.json, then results/INDEX.md. From a clean tree only (the results record
# the commit). A stopped run resumes where it stopped (at the same commit; at a new commit
# each step starts afresh). RESULTS_ONLY=step,step runs those steps. Many hours on 2 cores:
# run it with nothing else on the machine (the timings go into the reports; the load
# average before each command is recorded as the evidence).
RESULTS_ONLY ?=
results: install
	$(VENV)/bin/bnn-bench results run --resume $(if $(RESULTS_ONLY),--only $(RESULTS_ONLY))

# One folder's step alone (what each runs: results/pipeline.toml).
results-reference-floor: install
	$(VENV)/bin/bnn-bench results run --resume --only reference
results-rupture results-rupture-quick results-rupture-methods results-scaling results-scaling-minibatch results-shift results-coverage results-sbc: install
	$(VENV)/bin/bnn-bench results run --resume --only $(patsubst results-%,%,$@)

# Whether every committed result is current (CI runs it): no dirty commit, no setting other
# than today's defaults, unless its folder is historical in results/pipeline.toml.
results-check: install
	$(VENV)/bin/bnn-bench results check

results-index: install
	$(VENV)/bin/bnn-bench results index

# The release check: the pinned libraries against the sets of results/releases/versions.toml
# (PyMC 6.4.0), each in its own environment under .bnn_cache/envs (built once, reused), the
# CI methods on the gate's 10 seeds and the asv ops benchmarks in each. Exit 4 when a set
# cannot be installed (reported with pip's message; the others run), 1 when one regressed.
# Timings: run it with nothing else on the machine.
results-releases: install
	@git diff --quiet HEAD || { echo "results-releases: commit your changes first (the run records the commit)"; exit 1; }
	-$(VENV)/bin/bnn-bench versions results/releases/versions.toml --out results/releases

# The README's and the docs' quoted numbers, rewritten from the committed results (after
# any `make results-*`): docs/quotes/*.md.j2 render the blocks between <!-- quote: NAME -->
# markers; tests/test_quotes.py fails when one differs from its files.
quotes: install
	$(PY) -m docs.quotes --write

lint: install
	$(VENV)/bin/ruff check bnn_models benchmarks tests studies docs
	$(VENV)/bin/ruff format --check bnn_models benchmarks tests studies docs
	$(VENV)/bin/mypy

# asv: BNN_BENCH_PROFILE=quick (default: small fits, CI) or full (the real configuration).
# `make asv` runs the suite in .venv and keeps the results under .asv/ for `make asv-publish`;
# `make asv-compare BASE=<rev>` builds BASE and HEAD in .asv/env and compares the timings
# side by side (ASV_BENCH: which benchmarks; ASV_FACTOR: the ratio that counts as a change).
# `make asv-history ASV_RANGE=<revs>` measures past commits in built environments (each
# commit's wheel over its own pinned requirements.txt, in .asv/env) and publishes the
# dashboard. ASV_RANGE is what `asv run` takes: A^..B (A to B, both included), A^! (one
# commit), HASHFILE:FILE (listed commits, newest first: asv discovers the benchmarks on
# the first). ASV_STEPS=N measures N commits spread over the range. Benchmarks that
# already have results are skipped, so a stopped run resumes where it stopped.
ASV := $(VENV)/bin/asv
ASV_FACTOR ?= 2
ASV_BENCH ?= ^(ops|scaling)\.
ASV_RANGE ?=
ASV_STEPS ?=
export BNN_BENCH_PROFILE ?= quick

asv: install
	@$(ASV) machine --yes > /dev/null
	commit=$$(git rev-parse HEAD) && \
	  $(ASV) run --python=same --show-stderr --set-commit-hash $$commit $(ASV_ARGS) && \
	  $(PY) -m benchmarks._units $$commit

asv-compare: install
	@$(ASV) machine --yes > /dev/null
	$(ASV) continuous --factor $(ASV_FACTOR) --split --show-stderr -b '$(ASV_BENCH)' $(BASE) HEAD

asv-history: install
	@test -n '$(ASV_RANGE)' || { echo "usage: make asv-history ASV_RANGE='A^..B' (or 'A^!', HASHFILE:FILE) [ASV_STEPS=N]" >&2; exit 2; }
	@$(ASV) machine --yes > /dev/null
	@# published even when a benchmark failed at some commit; the exit status is asv run's
	rc=0; $(ASV) run --show-stderr --skip-existing -b '$(ASV_BENCH)' \
	  $(if $(ASV_STEPS),--steps $(ASV_STEPS)) '$(ASV_RANGE)' || rc=$$?; \
	  $(ASV) publish && echo "dashboard: .asv/html/index.html (serve it with: $(ASV) preview)"; \
	  exit $$rc

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
# The methods CI benchmarks and gates: the `ci` set of bnn_models.inference.METHOD_SETS
# (which says why it leaves the alternative NUTS engines out).
CI_METHODS ?= ci
# The uncertainty baselines gate the design card's methods (the `design` set) under the
# bump-height shift (shift AUROC, shifted log loss) and on the teacher data (interval
# coverage), 10 seeds.
UNCERTAINTY_METHODS ?= design
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

# The quality gate, as CI runs it: fresh quick runs checked against the committed quick
# baselines: the CI methods on the rupture data, and the design card's methods under the
# bump-height shift and on the teacher data. Nothing timed is gated.
# (`bnn-bench check --baseline $(BASELINE)` alone gates every method of the baseline.)
check: install
	@$(call step,$(VENV)/bin/bnn-bench check --baseline $(BASELINE) --methods $(CI_METHODS))
	@$(call step,$(VENV)/bin/bnn-bench check --baseline results/baseline_shift_quick.json)
	@$(call step,$(VENV)/bin/bnn-bench check --baseline results/baseline_teacher_quick.json)

# What CI runs (.ci/run installs, then runs this): every fast test, then two streams side
# by side, each mostly one process on one of the two cores: (1) lint and types, the slow
# tests (a real run killed three times and resumed, dask clusters), the docs, the quality gate
# (`make check`); (2) `asv check` and every asv benchmark of the CI methods (quick
# profile, current environment). Each stream's output is printed whole when it ends
# (--output-sync); CI fails if either failed. Every step prints its own seconds.
ci: install
	@+$(call step,$(MAKE) test)
	@t0=$$SECONDS; rc=0; $(MAKE) -j2 --output-sync=recurse ci-checks ci-asv || rc=$$?; \
	  echo "[ci] the two streams took $$((SECONDS - t0)) s"; exit $$rc

ci-checks: install
	@+$(call step,$(MAKE) results-check)
	@+$(call step,$(MAKE) lint)
	@+$(call step,$(MAKE) docs)
	@+$(call step,$(MAKE) test-slow)
	@+$(call step,$(MAKE) check)

ci-asv: install
	@$(ASV) machine --yes > /dev/null
	@$(call step,$(ASV) check --python=same)
	@$(call step,BNN_BENCH_METHODS=$(CI_METHODS) $(ASV) run --python=same --quick --show-stderr)

clean:
	rm -rf $(VENV) .asv .pytest_cache
