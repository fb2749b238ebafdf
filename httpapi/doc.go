// Package httpapi serves Canopy's REST API with chi: it parses and validates
// requests, turns each into one call on the Store it is given (a command to
// propose, or a read of the local tree after the consistency check the
// request asks for), and renders the result or the error body. It holds no
// business rules: ZooKeeper's semantics live in fsm, replication in
// consensus. It also serves the operational endpoints (health, readiness,
// Prometheus metrics), openapi.yaml and the UI's static files.
package httpapi
