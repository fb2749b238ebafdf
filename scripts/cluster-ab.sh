#!/usr/bin/env bash
# Compare two builds or two settings of a 3-node Canopy cluster on this
# machine, in alternating runs (A B A B ...), so that drift in the
# machine's load hits both alike. Each run starts three fresh nodes on free
# 127.0.0.1 ports (fsync on), loads them with wrk spread over the three
# (scripts/cluster-bench.sh's load), prints the ops/s, and stops the nodes
# it started, by PID.
#
#   scripts/cluster-ab.sh OP 'ENV_A' 'ENV_B'
#   scripts/cluster-ab.sh create 'GOGC=50' ''      # fixed GOGC vs canopy's own pacing
#   BIN_A=/tmp/canopy-old scripts/cluster-ab.sh create '' ''   # two builds
#
# ENV_A and ENV_B are environment assignments for the nodes ('' for none);
# BIN_A and BIN_B the binaries (default: built from this tree).
# Environment: RUNS (pairs, default 2), CONNECTIONS (default 63), DURATION
# (per run, default 6s).
set -euo pipefail
op=${1:?usage: cluster-ab.sh OP ENV_A ENV_B}
envs=("${2-}" "${3-}")
RUNS=${RUNS:-2}; CONNECTIONS=${CONNECTIONS:-63}; DURATION=${DURATION:-6s}
command -v wrk >/dev/null || { echo "cluster-ab needs wrk: apt-get install -y wrk" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/throwaway-cluster.sh
source "$repo/scripts/lib/throwaway-cluster.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/canopy-ab.XXXXXX")
trap 'cluster_stop; rm -rf "$tmp"' EXIT INT TERM
if [[ -z "${BIN_A:-}" || -z "${BIN_B:-}" ]]; then (cd "$repo" && go build -o "$tmp/canopy" ./cmd/canopy); fi
bins=("${BIN_A:-$tmp/canopy}" "${BIN_B:-$tmp/canopy}")

declare -A sum
for r in $(seq 1 "$RUNS"); do
	for k in 0 1; do
		cluster_start "$tmp/run" "${bins[$k]}" "${envs[$k]}"
		bench_tree
		wrk_load "$op" "$CONNECTIONS" 2s "w$r" >/dev/null
		v=$(wrk_load "$op" "$CONNECTIONS" "$DURATION" "m$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ops_per_s"])')
		cluster_stop
		echo "run $r  ${bins[$k]##*/} ${envs[$k]:-(no env)}  $op  $v ops/s"
		sum[$k]=$(( ${sum[$k]:-0} + v ))
	done
done
for k in 0 1; do echo "mean  ${bins[$k]##*/} ${envs[$k]:-(no env)}  $op  $(( sum[$k] / RUNS )) ops/s"; done
