// Package cluster is how one Canopy node talks to another's API: the HTTP
// client that carries a follower's writes, read-index requests, batched
// session keep-alives and membership changes to the leader (it implements
// consensus.Forwarder). The leader's side of these calls is served by
// httpapi under /v1/internal and /v1/cluster.
package cluster
