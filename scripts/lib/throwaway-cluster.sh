# Sourced by the cluster benchmark scripts: start and stop a throwaway
# 3-node Canopy cluster on free 127.0.0.1 ports (fsync on, as always).
#
#   cluster_start DIR BIN [ENV]   start three nodes with data under DIR,
#                                 ENV assignments ('' for none) in their
#                                 environment; sets NODES_HTTP (host:port
#                                 each) and NODE_PIDS, waits for /readyz
#   cluster_stop                  stop the nodes it started, by PID
NODES_HTTP=(); NODE_PIDS=()

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

cluster_start() {
	local dir=$1 bin=$2 env=${3-} raft=() peers="" i
	rm -rf "$dir"; mkdir -p "$dir"
	NODES_HTTP=(); NODE_PIDS=()
	for i in 1 2 3; do
		NODES_HTTP+=("127.0.0.1:$(freeport)"); raft+=("127.0.0.1:$(freeport)")
		peers+="n$i=${raft[$((i-1))]},"
	done
	for i in 1 2 3; do
		env $env "$bin" serve --id "n$i" --http "${NODES_HTTP[$((i-1))]}" --raft "${raft[$((i-1))]}" \
			--data-dir "$dir/n$i" --peers "${peers%,}" 2>"$dir/n$i.log" &
		NODE_PIDS+=($!)
	done
	local ready h
	for _ in $(seq 1 300); do
		ready=0
		for h in "${NODES_HTTP[@]}"; do curl -sf "http://$h/readyz" >/dev/null && ready=$((ready+1)); done
		[[ $ready == 3 ]] && return 0
		sleep 0.1
	done
	echo "cluster in $dir not ready after 30 s; see $dir/n*.log" >&2
	return 1
}

cluster_stop() {
	[[ ${#NODE_PIDS[@]} -gt 0 ]] || return 0
	kill "${NODE_PIDS[@]}" 2>/dev/null || true
	wait "${NODE_PIDS[@]}" 2>/dev/null || true
	NODE_PIDS=()
}

# cluster_nodes is NODES_HTTP as wrk's script wants it: host:port,...
cluster_nodes() { local IFS=,; echo "${NODES_HTTP[*]}"; }

# wrk_load OP CONNECTIONS DURATION RUN: closed-loop load from wrk, three
# threads, one per node, CONNECTIONS/3 connections each; prints the JSON
# line of scripts/cluster-load.lua. RUN keeps created paths apart.
wrk_load() {
	CANOPY_OP=$1 CANOPY_NODES=$(cluster_nodes) CANOPY_RUN=$4 \
		wrk -t3 -c"$2" -d"$3" --timeout 10s -s "$(dirname "${BASH_SOURCE[0]}")/../cluster-load.lua" \
		"http://${NODES_HTTP[0]}/" | grep '^{'
}

# bench_tree makes what the load needs: /bench/get (100 bytes), the
# parents of creates and the nodes sets write, and waits until every node
# serves /bench/get.
bench_tree() {
	local h=${NODES_HTTP[0]} t
	curl -sf -XPOST "http://$h/v1/nodes/bench" >/dev/null
	curl -sf -XPOST "http://$h/v1/nodes/bench/get" --data-binary "$(printf 'x%.0s' $(seq 1 100))" >/dev/null
	for t in 1 2 3; do
		curl -sf -XPOST "http://$h/v1/nodes/bench/t$t" >/dev/null
		curl -sf -XPOST "http://$h/v1/nodes/bench/s$t" >/dev/null
	done
	for h in "${NODES_HTTP[@]}"; do
		for _ in $(seq 1 100); do
			curl -sf "http://$h/v1/nodes/bench/get?consistency=stale" >/dev/null && break
			sleep 0.05
		done
	done
}
