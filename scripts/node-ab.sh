#!/usr/bin/env bash
# Compare two builds of a single Canopy node on this machine, in
# alternating runs (A B A B ...), so that drift in the machine's load hits
# both alike: each run starts one fresh node on free 127.0.0.1 ports (fsync
# on), loads it with canopy-bench, prints ops/s, p99 and the CPU the
# hypervisor stole meanwhile, and stops the node it started, by PID.
#
#   BIN_A=/tmp/canopy-old scripts/node-ab.sh create,get,stale-get
#
# BIN_A and BIN_B are the canopy binaries (default: built from this tree).
# Environment: RUNS (pairs, default 3), CLIENTS (default 16), DURATION
# (per cell, default 5s).
set -euo pipefail
ops=${1:-create,set,get,stale-get}
RUNS=${RUNS:-3}; CLIENTS=${CLIENTS:-16}; DURATION=${DURATION:-5s}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/canopy-node-ab.XXXXXX")
pid=""
stop() { [[ -z "$pid" ]] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }; }
trap 'stop; rm -rf "$tmp"' EXIT INT TERM
(cd "$repo" && go build -o "$tmp/canopy-bench" ./cmd/canopy-bench)
if [[ -z "${BIN_A:-}" || -z "${BIN_B:-}" ]]; then (cd "$repo" && go build -o "$tmp/canopy" ./cmd/canopy); fi
bins=("${BIN_A:-$tmp/canopy}" "${BIN_B:-$tmp/canopy}")
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# steal prints the jiffies of all CPUs: total and stolen.
steal() { awk '/^cpu / {t=0; for (i=2;i<=NF;i++) t+=$i; print t, $9}' /proc/stat; }

for r in $(seq 1 "$RUNS"); do
	for k in 0 1; do
		http="127.0.0.1:$(freeport)"
		rm -rf "$tmp/data"
		"${bins[$k]}" serve --http "$http" --raft "127.0.0.1:$(freeport)" --data-dir "$tmp/data" \
			--log-level warn 2>"$tmp/node.log" &
		pid=$!
		for _ in $(seq 1 300); do curl -sf "http://$http/readyz" >/dev/null && break; sleep 0.1; done
		for op in ${ops//,/ }; do
			read -r t0 s0 < <(steal)
			line=$("$tmp/canopy-bench" -target "http://$http" -op "$op" -clients "$CLIENTS" \
				-duration "$DURATION" -json -prefix "/ab$r$k$op")
			read -r t1 s1 < <(steal)
			python3 - "$line" "$r" "${bins[$k]##*/}" "$op" $((t1 - t0)) $((s1 - s0)) <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
run, name, op, total, stolen = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
ops = d["ops_per_sec"]
p99 = d["p99_ms"]
print(f"run {run}  {name:14s} {op:10s} {ops:10.0f} ops/s  p99 {p99:6.2f} ms  steal {100*stolen/max(total,1):.1f}%")
EOF
		done
		stop
	done
done
