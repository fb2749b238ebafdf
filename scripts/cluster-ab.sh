#!/usr/bin/env bash
# Compare two settings of a 3-node Canopy cluster on this machine, in
# alternating runs (A B A B ...), so that drift in the machine's load hits
# both alike. Each run starts three fresh nodes on free 127.0.0.1 ports
# (fsync on), loads them with one canopy-bench per node (CLIENTS/3 clients
# each, spread as clients would be), prints the summed ops/s, and stops the
# nodes it started, by PID.
#
#   scripts/cluster-ab.sh OP 'ENV_A' 'ENV_B'
#   scripts/cluster-ab.sh create 'GOGC=50' ''      # fixed GOGC vs canopy's own pacing
#
# ENV_A and ENV_B are environment assignments for the nodes ('' for none).
# Environment: RUNS (pairs, default 2), CLIENTS (default 64), DURATION
# (per run, default 6s), CANOPY_BIN (default: built from this tree).
set -euo pipefail
op=${1:?usage: cluster-ab.sh OP ENV_A ENV_B}
envs=("${2-}" "${3-}")
RUNS=${RUNS:-2}; CLIENTS=${CLIENTS:-64}; DURATION=${DURATION:-6s}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/canopy-ab.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
(cd "$repo" && go build -o "$tmp/canopy-bench" ./cmd/canopy-bench)
bin=${CANOPY_BIN:-}
if [[ -z "$bin" ]]; then (cd "$repo" && go build -o "$tmp/canopy" ./cmd/canopy); bin=$tmp/canopy; fi

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

run() { # $1: env assignments for the nodes
	local dir=$tmp/run; rm -rf "$dir"; mkdir -p "$dir"
	local http=() raft=() peers=""
	for i in 1 2 3; do http+=("127.0.0.1:$(freeport)"); raft+=("127.0.0.1:$(freeport)"); peers+="n$i=${raft[$((i-1))]},"; done
	pids=()
	for i in 1 2 3; do
		env $1 "$bin" serve --id "n$i" --http "${http[$((i-1))]}" --raft "${raft[$((i-1))]}" \
			--data-dir "$dir/n$i" --peers "${peers%,}" 2>"$dir/n$i.log" &
		pids+=($!)
	done
	for _ in $(seq 1 200); do
		local ready=0
		for h in "${http[@]}"; do curl -sf "http://$h/readyz" >/dev/null && ready=$((ready+1)); done
		[[ $ready == 3 ]] && break; sleep 0.1
	done
	curl -sf -XPOST "http://${http[0]}/v1/nodes/bench" >/dev/null
	local bench=()
	for i in 1 2 3; do
		curl -sf -XPOST "http://${http[0]}/v1/nodes/bench/c$i" >/dev/null
		"$tmp/canopy-bench" -target "http://${http[$((i-1))]}" -op "$op" -clients $((CLIENTS/3)) \
			-duration "$DURATION" -prefix "/bench/c$i" >"$dir/b$i.out" 2>&1 &
		bench+=($!)
	done
	wait "${bench[@]}"
	kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; pids=()
	cat "$dir"/b*.out | sed -n 's/.*ops\/s=\([0-9.]*\).*/\1/p' | awk '{s+=$1} END {printf "%.0f\n", s}'
}

declare -A sum
for r in $(seq 1 "$RUNS"); do
	for k in 0 1; do
		v=$(run "${envs[$k]}")
		echo "run $r  ${envs[$k]:-(none)}  $op  $v ops/s"
		sum[$k]=$(( ${sum[$k]:-0} + v ))
	done
done
for k in 0 1; do echo "mean  ${envs[$k]:-(none)}  $op  $(( sum[$k] / RUNS )) ops/s"; done
