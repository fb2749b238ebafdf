// Package loadgen is the closed-loop load generator shared by canopy-bench
// and canopy-compare: a fixed-memory latency histogram, a runner of N
// closed-loop clients with a warm-up and a measured window, and the share
// of CPU the hypervisor stole during a window (from /proc/stat).
//
// A client's operation is a function, so the same runner drives any
// system; canopyhttp.go holds what loading Canopy's REST API needs
// (keep-alive clients, setup requests, error kinds). The package must never
// start work it does not wait for.
package loadgen
