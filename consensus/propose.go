package consensus

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"time"

	"github.com/hashicorp/raft"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// DefaultTimeout bounds a request that carries no deadline of its own.
const DefaultTimeout = 10 * time.Second

// Propose commits cmd through raft and returns its result and zxid (its log
// index): on the leader directly, from a follower through the leader. The
// node stamps the time. A failure is Unavailable: the command may or may not
// have been applied, and the caller should re-read before retrying.
func (n *Node) Propose(ctx context.Context, cmd *fsm.Command) (fsm.Result, int64, error) {
	if cmd.Time == 0 {
		cmd.Time = time.Now().UnixMilli()
	}
	type proposed struct {
		res  fsm.Result
		zxid int64
	}
	p, err := onLeader(ctx, n,
		func() (proposed, error) {
			res, zxid, err := n.proposeLocal(ctx, cmd)
			return proposed{res, zxid}, err
		},
		func(leader string) (proposed, error) {
			res, zxid, err := n.cfg.Forwarder.Propose(ctx, leader, cmd.Encode(nil))
			return proposed{res, zxid}, err
		})
	return p.res, p.zxid, err
}

// proposeLocal proposes on this node, which must be the leader.
func (n *Node) proposeLocal(ctx context.Context, cmd *fsm.Command) (fsm.Result, int64, error) {
	return n.proposeEncoded(ctx, cmd.Encode(nil))
}

// proposeEncoded proposes an encoded command on this node, which must be
// the leader.
func (n *Node) proposeEncoded(ctx context.Context, data []byte) (fsm.Result, int64, error) {
	timeout := DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	start := time.Now()
	// raft's timeout bounds only the wait to enqueue; the wait for the
	// entry to apply is bounded by ctx and the node's life (see await).
	f := n.raft.Apply(data, timeout)
	if err := n.await(ctx, f); err != nil {
		return fsm.Result{}, 0, raftError(err)
	}
	n.metrics.proposeSeconds.Observe(time.Since(start).Seconds())
	resp, ok := f.Response().(*applyResponse)
	if !ok {
		return fsm.Result{}, 0, api.Errorf(api.CodeSystemError, "", "unexpected raft response %T", f.Response())
	}
	return resp.result, int64(f.Index()), nil
}

// raftError turns raft's failures into the API's: all mean "no leader
// reachable from here right now".
func raftError(err error) error {
	var ae *api.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return api.Unavailable("no leader: %v", err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return api.Unavailable("raft is overloaded: %v", err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return errStopping
	}
	return api.Unavailable("%v", err)
}

// CreateSession opens a session with a fresh id and the negotiated timeout.
func (n *Node) CreateSession(ctx context.Context, timeoutMs int64, identity []string) (api.Session, int64, error) {
	cmd := &fsm.Command{
		Op:       fsm.OpCreateSession,
		Session:  newSessionID(),
		Timeout:  fsm.ClampTimeout(timeoutMs),
		Identity: identity,
	}
	res, zxid, err := n.Propose(ctx, cmd)
	if err != nil {
		return api.Session{}, zxid, err
	}
	if res.Err != nil {
		return api.Session{}, zxid, res.Err
	}
	n.lease.touch(cmd.Session, cmd.Timeout) // a no-op unless this node leads
	return api.Session{ID: cmd.Session, TimeoutMs: cmd.Timeout}, zxid, nil
}

// newSessionID draws 63 random bits: the top bit stays clear so that an id
// never looks like ZooKeeper's container or TTL owner markers.
func newSessionID() api.ID {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		if id := api.ID(binary.BigEndian.Uint64(b[:]) >> 1); fsm.ValidSessionID(id) {
			return id
		}
	}
}

// KeepAlive renews a session's lease. It answers once the renewal has
// reached the leader's clock: at once on the leader; from a follower, in
// the next batch of keep-alives it sends.
func (n *Node) KeepAlive(ctx context.Context, id api.ID) (api.Session, error) {
	known, err := onLeader(ctx, n,
		func() (bool, error) { return len(n.LeaderKeepAlive([]api.ID{id})) == 0, nil },
		func(string) (bool, error) {
			unknown, err := n.keepAlives.join(ctx, id)
			return !unknown[id], err
		})
	if err != nil {
		return api.Session{}, err
	}
	if !known {
		return api.Session{}, api.SessionExpired(id)
	}
	timeout := int64(0)
	if info, _, err := n.tree.Session(id); err == nil {
		timeout = info.TimeoutMs
	}
	return api.Session{ID: id, TimeoutMs: timeout}, nil
}

// SessionRemaining is the time before a session expires, as this node's
// lease clock sees it; false when this node does not hold the clock.
func (n *Node) SessionRemaining(id api.ID) (time.Duration, bool) {
	return n.lease.remaining(id, time.Now())
}
