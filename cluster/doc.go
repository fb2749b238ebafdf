// Package cluster is how one Canopy node talks to another's API. A
// follower sends its writes and read-index requests to the leader over the
// forwarding stream (one upgraded connection carrying many requests at
// once; both sides are here), and its batched session keep-alives and
// membership changes as plain HTTP requests (it implements
// consensus.Forwarder). The leader's side of the plain requests is served
// by httpapi under /v1/internal and /v1/cluster. A cluster's APIs all
// serve TLS or none does: the caller's configuration (NewClient) says
// which, never a member's address, which is host:port.
package cluster
