// Package api holds the wire types that the server and its clients share:
// Stat, node and session bodies, the error type with ZooKeeper's codes, and
// the 64-bit id encoding. It imports nothing of the project, so anything may
// import it; it must never grow behaviour beyond encoding and validation.
package api
