// Package testkit is what Canopy's tests share to wait and to pick
// addresses: WaitFor and WaitExplained poll a condition until a deadline
// instead of sleeping, Poll does the same without failing the test, and
// FreePort picks a loopback address that is free now.
//
// It must never import a package of this project, so that every package's
// tests can use it (raftnode, below it, is where a real node is built).
package testkit
