// Package consensus replicates the fsm through hashicorp/raft: it opens the
// raft log (raft-boltdb) and snapshot store in the data directory,
// bootstraps the cluster, turns commands into raft entries (raft batches
// concurrent proposals into one disk write, and the FSM applies committed
// entries in batches), serves linearizable reads with batched leadership
// checks, and, on the leader only, keeps the session lease clock and reaps
// containers and TTL nodes, always through raft commands.
//
// It knows nothing of HTTP. It never blocks raft's apply goroutine on a slow
// consumer: change events are handed to the EventSink, which must not block.
package consensus
