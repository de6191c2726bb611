#!/usr/bin/env bash
# CI entry point for a change (pull or merge request) touching patches/: `harness check`
# on every series it changes, and on the series that depend on them. The CI's YAML only
# calls this (ci/github/check.yml, ci/gitlab/check.gitlab-ci.yml).
#
#   ci/check-changed-series.sh [BASE]   # BASE: the revision the change is compared with
#
# BASE defaults to the CI's: GitLab's $CI_MERGE_REQUEST_DIFF_BASE_SHA, GitHub's
# origin/$GITHUB_BASE_REF, else origin/main. The series are those under patches/ that
# `git diff BASE...HEAD` touches (removed ones are noted, not checked).
#
# Environment: RESULTS_DIR (default results/: one results/<run-id>/ per series, with
# check.json, junit.xml, summary.md, kcidb.json), HARNESS_CACHE (default
# ~/.cache/xdp-harness: keep its linux.git, linux.imported.json and ccache/ between jobs),
# KERNEL_TREE (optional: a kernel git tree instead of Debian's linux-source-6.12),
# HARNESS_CHECK_ARGS (more arguments for harness check, e.g. "--no-build" or
# "--per-patch-tests"), GITHUB_STEP_SUMMARY (if set, each summary.md is added to it).
# Exit code: the gravest of the checks' (0 pass, 1 a check failed, 2 bad input,
# 3 infrastructure); 0 when no series changed.
set -euo pipefail
cd "$(dirname "$0")/.."

base=${1:-}
if [ -z "$base" ]; then
  if [ -n "${CI_MERGE_REQUEST_DIFF_BASE_SHA:-}" ]; then
    base=$CI_MERGE_REQUEST_DIFF_BASE_SHA
  elif [ -n "${GITHUB_BASE_REF:-}" ]; then
    base=origin/$GITHUB_BASE_REF
  else
    base=origin/main
  fi
fi
git rev-parse -q --verify "$base^{commit}" >/dev/null || {
  echo "error: the base $base is not a commit here" >&2
  echo "  fix: fetch it (a shallow clone has no history: fetch-depth 0, GIT_DEPTH 0)" >&2
  exit 2
}

[ -x .venv/bin/harness ] || ci/setup-host.sh
mapfile -t series < <(git diff --name-only "$base...HEAD" -- patches/ \
  | .venv/bin/python -m harness.changed_series)
if [ "${#series[@]}" -eq 0 ]; then
  echo "check-changed-series: no series changed since $base: nothing to check"
  exit 0
fi
echo "check-changed-series: since $base: ${series[*]}"

results=${RESULTS_DIR:-results}
extra=()
[ -n "${KERNEL_TREE:-}" ] && extra+=(--kernel-tree "$KERNEL_TREE")
# shellcheck disable=SC2206  # HARNESS_CHECK_ARGS is split on purpose
[ -n "${HARNESS_CHECK_ARGS:-}" ] && extra+=(${HARNESS_CHECK_ARGS})

group() { if [ -n "${GITHUB_ACTIONS:-}" ]; then echo "::group::$*"; else echo "==> $*"; fi; }
endgroup() { if [ -n "${GITHUB_ACTIONS:-}" ]; then echo "::endgroup::"; fi; }

worst=0
declare -A codes
for s in "${series[@]}"; do
  group "harness check --series $s"
  before=$(readlink "$results/latest" || true)
  rc=0
  .venv/bin/harness check --series "$s" --results-dir "$results" "${extra[@]}" || rc=$?
  endgroup
  codes[$s]=$rc
  if [ "$rc" -gt "$worst" ]; then worst=$rc; fi  # 0 < 1 < 2 < 3: the gravest is the largest
  now=$(readlink "$results/latest" || true)
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ "$now" != "$before" ] \
    && [ -f "$results/latest/summary.md" ]; then
    cat "$results/latest/summary.md" >> "$GITHUB_STEP_SUMMARY"
  fi
done
for s in "${series[@]}"; do echo "check-changed-series: $s exit ${codes[$s]}"; done
exit "$worst"
