// Package paritytest holds the transport-parity test: one table of
// operations and bad inputs, each sent over every transport (REST, and
// WebSocket frames) to the same node, whose outcomes (error code, result,
// and the tree afterwards) must agree. A transport joins it with one
// adapter (see transport in parity_test.go).
package paritytest
