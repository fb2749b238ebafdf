// Package service is the operation layer: one typed request and result per
// operation (create, setData, delete, getData, exists, getChildren, tree,
// multi, sync, sessions, cluster and backups), holding every rule that is
// not about bytes on a wire: validation (paths and their length, data
// size, versions, flags, TTLs, the shape and size of a multi), the
// stamping of the caller's session into commands, the consistency a read
// waits for (linearizable, stale, min_zxid), and the errors.
//
// Every transport (REST in httpapi, WebSocket and SSE in wsnotify) decodes
// its request into these types, calls one method and encodes the answer:
// a rule true for one transport is true for all of them because it lives
// here. It never knows of HTTP, frames or sockets.
package service
