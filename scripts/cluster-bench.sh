#!/usr/bin/env bash
# Benchmark a 3-node Canopy cluster on this machine, the way issue 4 asks:
# fsync on, load spread evenly over the three nodes, closed-loop clients on
# keep-alive connections. The load comes from wrk (Debian's package: its
# C event loop costs a tenth of Go's HTTP client per request, so the
# figures are the cluster's, not the load generator's), three threads, one
# per node, a fresh cluster for each op. Prints a markdown table: ops/s, p50 and p99 per op and
# connection count, and the share of CPU time the hypervisor gave to
# others during the cell (steal, from /proc/stat): figures from cells with
# much of it are the neighbours', not Canopy's.
#
#   scripts/cluster-bench.sh
#   OPS=create CONNECTIONS=63 DURATION=20s scripts/cluster-bench.sh
#   OPS=set CONNECTIONS=63 WARMUP=70s scripts/cluster-bench.sh   # steady state:
#       measured after raft's first snapshot and log compaction (30-60 s in)
#
# Environment: OPS (default create,set,get,stale-get), CONNECTIONS
# (default 15,63: multiples of 3, one third per node), DURATION (per cell,
# default 10s), WARMUP (load before each cell, default 2s), CANOPY_BIN (default: built from this
# tree). Exit status 1 when any request failed.
set -euo pipefail
OPS=${OPS:-create,set,get,stale-get}; CONNECTIONS=${CONNECTIONS:-15,63}; DURATION=${DURATION:-10s}; WARMUP=${WARMUP:-2s}
command -v wrk >/dev/null || { echo "cluster-bench needs wrk: apt-get install -y wrk" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/throwaway-cluster.sh
source "$repo/scripts/lib/throwaway-cluster.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/canopy-cluster-bench.XXXXXX")
trap 'cluster_stop; rm -rf "$tmp"' EXIT INT TERM
bin=${CANOPY_BIN:-}
if [[ -z "$bin" ]]; then (cd "$repo" && go build -o "$tmp/canopy" ./cmd/canopy); bin=$tmp/canopy; fi

echo "## $(date +%F): 3-node cluster, wrk, $DURATION per cell after $WARMUP of load ($(nproc) cores, $(git -C "$repo" rev-parse --short HEAD))"
echo
echo "| op | connections | ops/s | p50 ms | p99 ms | errors | CPU stolen |"
echo "|---|--:|--:|--:|--:|--:|--:|"
failed=0; run=0
for op in ${OPS//,/ }; do
	# A fresh cluster per op: reads are not measured beside the snapshots
	# and log truncation that the writes before them set off.
	cluster_start "$tmp/cluster" "$bin"
	bench_tree
	for c in ${CONNECTIONS//,/ }; do
		run=$((run+1))
		wrk_load "$op" "$c" "$WARMUP" "w$run" >/dev/null
		before=$(head -1 /proc/stat)
		line=$(wrk_load "$op" "$c" "$DURATION" "m$run")
		after=$(head -1 /proc/stat)
		python3 -c '
import json, sys
r = json.loads(sys.argv[1])
b, a = [list(map(int, x.split()[1:])) for x in sys.argv[3:5]]
d = [y - x for x, y in zip(b, a)]
steal = 100 * d[7] / max(1, sum(d[:8]))  # user nice system idle iowait irq softirq steal
print("| %s | %s | %s | %.1f | %.1f | %d | %.0f %% |" % (r["op"], sys.argv[2], format(int(r["ops_per_s"]), ","), r["p50_ms"], r["p99_ms"], r["errors"], steal))
' "$line" "$c" "$before" "$after"
		[[ $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["errors"])' "$line") == 0 ]] || failed=1
	done
	cluster_stop
done
exit $failed
