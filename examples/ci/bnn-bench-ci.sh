#!/usr/bin/env bash
# bnn-bench as a pull-request check: the quality gate against the committed baseline, and
# the timings of the short operations (asv's `ops` benchmarks) against the base branch,
# both written as Markdown to the job summary. It is all that examples/ci/bnn-bench.yml
# runs, so it runs the same anywhere; from the project's root:
#
#   examples/ci/bnn-bench-ci.sh [BASE]
#
# BASE, the commit asv compares HEAD with: this argument, else $BNN_CI_BASE, else
# origin/$GITHUB_BASE_REF (a pull request's base branch), else origin/main.
#
# Settings (environment variables; default after the '='):
#   BNN_CI_PYTHON=               a Python with bnn-bench installed; empty: `make install`
#                                (builds .venv, or reuses it while requirements.txt and
#                                pyproject.toml are unchanged) and .venv/bin/python
#   BNN_CI_GATE=1                0: no quality gate
#   BNN_CI_BASELINE=results/baseline_quick.json   the gate's baseline
#   BNN_CI_METHODS=ci            the baseline's methods to gate (names, families or sets;
#                                empty: all of them)
#   BNN_CI_SEEDS=1               a fresh run fits the baseline's first N seeds
#   BNN_CI_RUN=                  a `bnn-bench run` folder to gate instead of a fresh run
#   BNN_CI_ASV=1                 0: no timings
#   BNN_CI_BASE=origin/$GITHUB_BASE_REF, else origin/main   BASE, when no argument names it
#   BNN_CI_ASV_BENCH='^ops\.'    the asv benchmarks to compare (a regular expression)
#   ASV_FACTOR=2                 the ratio of timings that asv calls a change
#   BNN_CI_ASV_FAIL=0            1: asv's verdict counts too (slower by ASV_FACTOR, or asv
#                                failing, fails the job); 0: it is reported only, since
#                                timings on shared CI machines drift
#   BNN_CI_ASV_CMD="$PYTHON -m asv"   the asv command
#   BNN_CI_OUT=runs/ci           the files kept as artifacts: gate.md, gate.log, asv.log
#   BNN_CI_SUMMARY=$BNN_CI_OUT/summary.md   where the Markdown is appended when
#                                $GITHUB_STEP_SUMMARY (set by GitHub Actions) is not (the
#                                default file is started afresh at each run)
#   BNN_BENCH_CACHE=.bnn_cache   bnn-bench's cache (reference draws in reference/),
#                                exported as an absolute path for asv's benchmark processes
#   BNN_BENCH_PROFILE=quick      the asv suite's fit profile (exported)
#
# Exit status: the gate's (0 passed; 1 a gated metric regressed or a fit failed; 2 bad
# input, such as a baseline that does not parse), or 1 when BNN_CI_ASV_FAIL=1 and asv
# found a slower timing or failed; 2 when this script's own input is bad (not run from
# the project's root, a BASE that is not a commit here).
set -euo pipefail

die() { echo "bnn-bench-ci: $*" >&2; exit 2; }
step() { echo "[ci] $1 took $((SECONDS - $2)) s"; }

[ -f asv.conf.json ] && [ -d bnn_models ] || die "run me from the project's root (no asv.conf.json or bnn_models/ in $PWD)"

GATE=${BNN_CI_GATE:-1}
BASELINE=${BNN_CI_BASELINE:-results/baseline_quick.json}
METHODS=${BNN_CI_METHODS-ci}
SEEDS=${BNN_CI_SEEDS:-1}
RUN=${BNN_CI_RUN:-}
USE_ASV=${BNN_CI_ASV:-1}
BENCH=${BNN_CI_ASV_BENCH:-'^ops\.'}
FACTOR=${ASV_FACTOR:-2}
ASV_FAIL=${BNN_CI_ASV_FAIL:-0}
OUT=${BNN_CI_OUT:-runs/ci}
SUMMARY=${GITHUB_STEP_SUMMARY:-${BNN_CI_SUMMARY:-$OUT/summary.md}}
BASE=${1:-${BNN_CI_BASE:-origin/${GITHUB_BASE_REF:-main}}}
export BNN_BENCH_PROFILE=${BNN_BENCH_PROFILE:-quick}
# asv runs the benchmarks from its own folder: a relative cache path would point elsewhere.
export BNN_BENCH_CACHE
BNN_BENCH_CACHE=$(realpath -m "${BNN_BENCH_CACHE:-.bnn_cache}")

mkdir -p "$OUT" "$(dirname "$SUMMARY")"
[ -n "${GITHUB_STEP_SUMMARY:-}${BNN_CI_SUMMARY:-}" ] || : > "$SUMMARY"
t_all=$SECONDS

# Before anything is installed or fitted: asv's two commits.
if [ "$USE_ASV" = 1 ]; then
  base_sha=$(git rev-parse --verify --quiet "$BASE^{commit}") \
    || die "BASE '$BASE' is not a commit here (a shallow clone? check out with fetch-depth 0)"
  head_sha=$(git rev-parse HEAD)
fi

# 1. The environment.
if [ -n "${BNN_CI_PYTHON:-}" ]; then
  PY=$BNN_CI_PYTHON
else
  t0=$SECONDS
  make install
  step "make install" "$t0"
  PY=.venv/bin/python
fi
read -r -a ASV <<< "${BNN_CI_ASV_CMD:-$PY -m asv}"

# 2. The quality gate: a fresh quick run (or $BNN_CI_RUN) against the baseline. Its
#    verdict is the job's; its Markdown table goes to the summary whatever the verdict.
gate_rc=0
if [ "$GATE" = 1 ]; then
  t0=$SECONDS
  check=("$PY" -m bnn_models.cli check --baseline "$BASELINE" --markdown "$OUT/gate.md")
  if [ -n "$METHODS" ]; then check+=(--methods "$METHODS"); fi
  if [ -n "$RUN" ]; then check+=(--run "$RUN"); else check+=(--seeds "$SEEDS"); fi
  rm -f "$OUT/gate.md"  # never a previous run's verdict
  "${check[@]}" 2>&1 | tee "$OUT/gate.log" || gate_rc=$?
  step "the gate (exit status $gate_rc)" "$t0"
  if [ "$gate_rc" -le 1 ] && [ -f "$OUT/gate.md" ]; then
    cat "$OUT/gate.md" >> "$SUMMARY"
  else
    { printf '## bnn-bench check: ERROR (exit status %s)\n\n```text\n' "$gate_rc"
      tail -n 20 "$OUT/gate.log"
      printf '```\n\n'; } >> "$SUMMARY"
  fi
fi

# 3. Timings: asv continuous builds BASE and HEAD in their own environments (each with
#    its pinned requirements) and compares them side by side, so a slow machine slows
#    both alike.
asv_rc=0
if [ "$USE_ASV" = 1 ]; then
  {
    echo
    echo "## asv continuous: HEAD (${head_sha:0:10}) vs \`${BASE}\` (${base_sha:0:10})"
    echo
  } >> "$SUMMARY"
  if [ "$base_sha" = "$head_sha" ]; then
    echo "HEAD is BASE: no timings to compare." | tee -a "$SUMMARY"
  else
    t0=$SECONDS
    "${ASV[@]}" machine --yes > "$OUT/asv.log" 2>&1 || asv_rc=$?
    # --no-only-changed: every compared benchmark in the table, not only those that moved.
    if [ "$asv_rc" = 0 ]; then
      "${ASV[@]}" continuous --factor "$FACTOR" --split --no-only-changed --show-stderr \
        -b "$BENCH" "$base_sha" "$head_sha" 2>&1 | tee -a "$OUT/asv.log" || asv_rc=$?
    fi
    step "asv continuous" "$t0"
    if [ "$asv_rc" = 0 ]; then
      verdict="no benchmark slower by more than a factor $FACTOR"
    elif grep -q "PERFORMANCE DECREASED" "$OUT/asv.log"; then
      verdict="**slower by more than a factor $FACTOR** (see the table)"
    else
      verdict="**asv failed** (exit status $asv_rc; the log is in the artifacts)"
    fi
    if [ "$asv_rc" != 0 ] && [ "$ASV_FAIL" != 1 ]; then
      verdict="$verdict; reported, not failing the job (BNN_CI_ASV_FAIL=0)"
    fi
    {
      echo "Benchmarks \`$BENCH\`, asv's rules (\`--factor $FACTOR --split\`): $verdict."
      echo
      echo '```text'
      # asv's comparison: from its first table's title to its last line.
      sed -n '/^\(All benchmarks:\|Benchmarks that \)/,$p' "$OUT/asv.log"
      echo '```'
    } >> "$SUMMARY"
  fi
fi

step "bnn-bench-ci" "$t_all"
echo "summary: $SUMMARY"
if [ "$gate_rc" != 0 ]; then exit "$gate_rc"; fi
if [ "$ASV_FAIL" = 1 ] && [ "$asv_rc" != 0 ]; then exit 1; fi
exit 0
