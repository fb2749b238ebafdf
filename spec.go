// Package canopy is the root of the Canopy module: a ZooKeeper-like
// coordination service spoken over HTTP/JSON and WebSocket and replicated
// with Raft. The root package holds only the API's OpenAPI 3.1 description,
// embedded so that the server can serve it at /openapi.yaml and tests can
// check responses against it; the code lives in the subpackages (api, fsm,
// consensus, httpapi, wsnotify, client, cmd/canopy).
package canopy

import _ "embed"

// OpenAPI is openapi.yaml: the OpenAPI 3.1 description of every route.
//
//go:embed openapi.yaml
var OpenAPI []byte
