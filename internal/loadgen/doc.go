// Package loadgen is the closed-loop load generator shared by canopy-bench
// and canopy-compare: a fixed-memory latency histogram, a runner of N
// closed-loop clients with a warm-up and a measured window, and the share
// of CPU the hypervisor stole during a window (from /proc/stat).
//
// It knows nothing of HTTP, Canopy or ZooKeeper: a client's operation is a
// function. It must never start work it does not wait for.
package loadgen
