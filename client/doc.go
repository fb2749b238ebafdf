// Package client is the Go client of Canopy's REST and WebSocket API.
//
// A Client talks to a cluster through any of its nodes: every call has a
// context, reads and other idempotent calls move to the next server when
// one fails or answers 503, and errors carry the API's codes
// (errors.Is(err, client.ErrNoNode)).
//
// Sessions (NewSession) keep themselves alive in the background and own
// ephemeral nodes. Watches come as Go channels: the one-shot watches of
// ZooKeeper (GetW, ExistsW, ChildrenW) and persistent or recursive ones
// (Watch) that resume where they left off after a reconnect, losing no
// event.
//
// Access (DESIGN §9): Config.User and Password authenticate every request
// and watch connection (HTTP Basic, the digest identity), Config.TLS
// carries https and a client certificate; nodes carry ZooKeeper's ACLs
// (CreateOptions.ACL, GetACL, SetACL), and WhoAmI tells which identities
// the server gives the client. A refusal is ErrNoAuth, a bad credential
// ErrAuthFailed.
//
// The coordination recipes (locks, leader election, barriers, queues,
// group membership, configuration) are in package client/recipe.
package client
