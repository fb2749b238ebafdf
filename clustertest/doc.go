// Package clustertest holds Canopy's multi-process cluster tests: real
// `canopy serve` processes on loopback, each with its own data directory,
// killed, paused, restarted and partitioned while clients write and read
// through every node.
//
// The harness (startCluster) builds the binary once, starts the nodes on free
// 127.0.0.1 ports behind a fault-injecting TCP proxy on each raft port (so a
// node can be cut off at the raft level while its HTTP API still answers),
// and cleans every process up by PID. The tests check what DESIGN §2, §5 and
// §7 promise of a cluster: failover without losing an acknowledged write,
// 503 instead of a hang or a wrong answer on a minority, sessions that
// survive a leader change, membership changes, snapshot install, and a
// porcupine linearizability check of a recorded history. bench_test.go
// measures a 3-node cluster's throughput and failover time.
//
// The package has no code outside its tests, and its tests never reach
// inside a node: everything goes through the HTTP API, signals and the
// network.
package clustertest
