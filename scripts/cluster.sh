#!/usr/bin/env bash
# A local 3-node Canopy cluster on 127.0.0.1, data in ./canopy-cluster/.
# The API and UI of node i are at http://127.0.0.1:89i0 (8910, 8920, 8930).
# Ctrl-C stops the three nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin canopy-cluster
go build -o bin/canopy ./cmd/canopy
peers="n1=127.0.0.1:8911,n2=127.0.0.1:8921,n3=127.0.0.1:8931"
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM
for i in 1 2 3; do
  cmd=(bin/canopy serve --id "n$i" --http "127.0.0.1:89${i}0" --raft "127.0.0.1:89${i}1"
       --data-dir "canopy-cluster/n$i" --peers "$peers")
  echo "${cmd[*]}"
  "${cmd[@]}" 2> "canopy-cluster/n$i.log" &
  pids+=($!)
done
echo "cluster starting: http://127.0.0.1:8910/ui/  (logs in canopy-cluster/n*.log; Ctrl-C stops it)"
wait
