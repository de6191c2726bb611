#!/usr/bin/env bash
# Entry point for a patch-set CI: check one series (or --all) end to end and leave
# the results where the CI collects artifacts.
#
#   ci/check-series.sh feature-flags        # one series (with its dependencies)
#   ci/check-series.sh --all                # every series stacked: one build, one boot
#
# Environment: RESULTS_DIR (default results/), HARNESS_CACHE (default ~/.cache/xdp-harness;
# keep it between CI jobs: it holds ccache and the unpacked source), KERNEL_TREE (optional:
# a kernel git tree to use instead of Debian's linux-source-6.12).
# Exit code is the harness's: 0 pass, 1 test failure or splat, 2 bad input, 3 infrastructure.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 SERIES|--all" >&2; exit 2; }
[ -x .venv/bin/harness ] || ci/setup-host.sh
args=(run --results-dir "${RESULTS_DIR:-results}")
if [ "$1" = "--all" ]; then args+=(--all); else args+=(--series "$1"); fi
[ -n "${KERNEL_TREE:-}" ] && args+=(--kernel-tree "$KERNEL_TREE")
exec .venv/bin/harness "${args[@]}"
