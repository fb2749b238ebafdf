#!/usr/bin/env bash
# Benchmark a single-node Canopy server on this machine.
#
# Builds canopy and canopy-bench into a temporary directory, starts
# `canopy serve` on free 127.0.0.1 ports with a fresh data directory (fsync on,
# the default), waits for /readyz, runs the canopy-bench matrix
# ({create,set,get,stale-get} x {1,16,64} clients, plus the in-process HTTP
# floor) and prints a dated markdown section for docs/benchmarks.md.
# The server it started is stopped (by PID) and the temporary directory
# removed on exit, whatever happens.
#
# Environment:
#   BENCH_DURATION  measured time per cell (default 5s; a 1 s warm-up precedes it)
#   BENCH_CLIENTS   client counts (default 1,16,64)
#   BENCH_SIZE      bytes of node data (default 100)
#   BENCH_READY_TIMEOUT  seconds to wait for /readyz (default 60)
#
# Exit status: 0 when every cell ran without a single error, 1 otherwise.
set -euo pipefail

BENCH_DURATION=${BENCH_DURATION:-5s}
BENCH_CLIENTS=${BENCH_CLIENTS:-1,16,64}
BENCH_SIZE=${BENCH_SIZE:-100}
BENCH_READY_TIMEOUT=${BENCH_READY_TIMEOUT:-60}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/canopy-bench.XXXXXX")
server_pid=""
bench_pid=""

stop_server() {
	if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 1 100); do # up to 10 s for a clean shutdown
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$server_pid" 2>/dev/null; then
			echo "bench: server $server_pid did not stop on TERM; killing it" >&2
			kill -KILL "$server_pid" 2>/dev/null || true
		fi
		wait "$server_pid" 2>/dev/null || true
	fi
	server_pid=""
}

cleanup() {
	if [[ -n "$bench_pid" ]] && kill -0 "$bench_pid" 2>/dev/null; then
		kill -TERM "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
	fi
	stop_server
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "bench: $*" >&2; }

log "building into $tmp"
go build -o "$tmp/canopy" ./cmd/canopy
go build -o "$tmp/canopy-bench" ./cmd/canopy-bench

# port_in_use PORT: true when something accepts connections on 127.0.0.1:PORT.
port_in_use() {
	(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/127.0.0.1/$1"
	)
}

# free_port: a port below the kernel's ephemeral range that nothing listens on.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		if ! port_in_use "$p"; then
			echo "$p"
			return 0
		fi
	done
	log "no free port found"
	return 1
}

# ready PORT: true when GET /readyz answers 200 (plain bash, no curl needed).
ready() {
	local status
	status=$(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
		IFS= read -r -t 2 line <&3 || exit 1
		echo "$line"
	) || return 1
	[[ "$status" == "HTTP/1."?" 200"* ]]
}

# start_server: starts canopy on fresh ports and waits until it is ready.
# Retries with other ports if the server exits early (a port was taken).
start_server() {
	local attempt deadline
	for attempt in 1 2 3; do
		http_port=$(free_port)
		raft_port=$(free_port)
		[[ "$http_port" != "$raft_port" ]] || continue
		data_dir="$tmp/data-$attempt"
		mkdir -p "$data_dir"
		server_log="$tmp/server-$attempt.log"
		log "starting canopy serve on http 127.0.0.1:$http_port, raft 127.0.0.1:$raft_port"
		"$tmp/canopy" serve --http "127.0.0.1:$http_port" --raft "127.0.0.1:$raft_port" \
			--data-dir "$data_dir" --log-level warn >"$server_log" 2>&1 &
		server_pid=$!
		deadline=$((SECONDS + BENCH_READY_TIMEOUT))
		while ((SECONDS < deadline)); do
			if ! kill -0 "$server_pid" 2>/dev/null; then
				wait "$server_pid" 2>/dev/null || true
				server_pid=""
				log "server exited during start-up (attempt $attempt); its log:"
				tail -n 20 "$server_log" >&2 || true
				break
			fi
			if ready "$http_port"; then
				return 0
			fi
			sleep 0.1
		done
		if [[ -n "$server_pid" ]]; then
			log "server not ready within ${BENCH_READY_TIMEOUT}s; its log:"
			tail -n 20 "$server_log" >&2 || true
			return 1
		fi
	done
	return 1
}

start_server || {
	log "could not start the server"
	exit 1
}
log "server ready (pid $server_pid); running the matrix, ${BENCH_DURATION} per cell"

# In the background so that a signal to this script is handled at once
# (bash runs traps only between foreground commands); cleanup stops it.
status=0
"$tmp/canopy-bench" -target "http://127.0.0.1:$http_port" -matrix \
	-matrix-clients "$BENCH_CLIENTS" -duration "$BENCH_DURATION" -size "$BENCH_SIZE" \
	>"$tmp/table.md" &
bench_pid=$!
wait "$bench_pid" || status=$?
bench_pid=""

if ! kill -0 "$server_pid" 2>/dev/null; then
	log "the server died during the benchmark; its log:"
	tail -n 40 "$server_log" >&2 || true
	status=1
fi

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
[[ -n "$cpu" ]] || cpu=$(uname -m)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "uncommitted")
if [[ "$commit" != "uncommitted" ]] && ! git diff --quiet HEAD 2>/dev/null; then
	commit="$commit+dirty"
fi

echo
echo "### $(date -u +%Y-%m-%d) — commit $commit"
echo
echo "- machine: $(nproc) CPUs, $cpu, $(uname -sr)"
echo "- go: $(go version | sed 's/^go version //')"
echo "- setup: one node (fsync on), canopy-bench on the same machine over 127.0.0.1;" \
	"closed-loop clients with keep-alive; ${BENCH_SIZE}-byte data;" \
	"${BENCH_DURATION} measured per cell after a 1 s warm-up"
echo
cat "$tmp/table.md"

if ((status != 0)); then
	log "some cells had errors (see the errors column and the lines above)"
fi
exit "$status"
