package consensus

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Followers learn that an entry is committed from the next AppendEntries
// the leader sends them. hashicorp/raft sends one when there are new
// entries, or when its CommitTimeout (50 ms) passes: after the last write
// of a burst (a lone lock release, a config change) every follower would
// learn of it up to 100 ms late, and so would its watches and its
// linearizable reads (issue 13, DESIGN §7).
//
// So the leader tells them itself: when it has applied an entry that is
// the last of its log (nothing in flight would carry the news), it sends
// each follower one AppendEntries of no entries whose previous entry is
// that committed entry and whose commit index is its index. A follower
// holding the entry (as raft checks by index and term) commits up to it at
// once; one that has not received it yet refuses, and is asked again
// shortly, a few times, before CommitTimeout takes over. Under load the
// log always runs ahead of the commit index and nothing extra is sent; an
// idle cluster sends nothing either.
//
// This is raft's own message with raft's own safety check: the commit index
// it carries never exceeds the entry the follower has just matched.

// commitRetries and commitRetryGap bound how long a follower that has not
// yet received the entry is asked again: past them, CommitTimeout.
const (
	commitRetries  = 8
	commitRetryGap = time.Millisecond
)

// commitNotifier sends the leader's commit index to each follower, one
// message in flight per follower, the latest index replacing older ones.
type commitNotifier struct {
	n       *Node
	logs    raft.LogStore
	signal  chan struct{} // an apply happened
	mu      sync.Mutex
	peers   map[raft.ServerID]*peerNotifier
	lastIdx uint64
}

type peerNotifier struct {
	id   raft.ServerID
	addr raft.ServerAddress
	wake chan struct{}
	mu   sync.Mutex
	want commitNews
}

type commitNews struct {
	term, index, prevTerm uint64
}

func newCommitNotifier(n *Node, logs raft.LogStore) *commitNotifier {
	return &commitNotifier{n: n, logs: logs, signal: make(chan struct{}, 1), peers: map[raft.ServerID]*peerNotifier{}}
}

// applied is called by the state machine after each batch it applies.
func (c *commitNotifier) applied() {
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// run is the leader-side loop; it ends with the node.
func (c *commitNotifier) run() {
	for {
		select {
		case <-c.n.stopped.Done():
			return
		case <-c.signal:
		}
		c.check()
	}
}

func (c *commitNotifier) check() {
	r := c.n.raft
	if r.State() != raft.Leader {
		return
	}
	commit := r.CommitIndex()
	if commit == 0 || commit <= c.lastIdx || r.LastIndex() > commit {
		return // told already, or entries in flight will carry it
	}
	var entry raft.Log
	if err := c.logs.GetLog(commit, &entry); err != nil {
		return
	}
	news := commitNews{term: r.CurrentTerm(), index: commit, prevTerm: entry.Term}
	c.lastIdx = commit
	self := raft.ServerID(c.n.cfg.ID)
	for _, s := range r.GetConfiguration().Configuration().Servers {
		if s.ID != self {
			c.peer(s.ID, s.Address).tell(news)
		}
	}
	c.n.metrics.commitNotices.Inc()
}

// peer returns the follower's notifier, starting it the first time.
func (c *commitNotifier) peer(id raft.ServerID, addr raft.ServerAddress) *peerNotifier {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.peers[id]
	if p == nil || p.addr != addr {
		p = &peerNotifier{id: id, addr: addr, wake: make(chan struct{}, 1)}
		c.peers[id] = p
		c.n.goLoop("commit-notify-"+string(id), func() { c.send(p) })
	}
	return p
}

func (p *peerNotifier) tell(news commitNews) {
	p.mu.Lock()
	if news.index > p.want.index {
		p.want = news
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// send delivers the latest news to one follower until the node stops.
func (c *commitNotifier) send(p *peerNotifier) {
	var sent uint64
	for {
		select {
		case <-c.n.stopped.Done():
			return
		case <-p.wake:
		}
		p.mu.Lock()
		news := p.want
		p.mu.Unlock()
		if news.index <= sent {
			continue
		}
		sent = news.index
		for try := 0; try < commitRetries; try++ {
			ok, again := c.deliver(p, news)
			if ok || !again {
				break
			}
			select {
			case <-c.n.stopped.Done():
				return
			case <-time.After(commitRetryGap):
			}
		}
	}
}

// deliver sends one notice; again reports whether a refusal may pass
// (the follower lacks the entry yet), not a term that moved on.
func (c *commitNotifier) deliver(p *peerNotifier, news commitNews) (ok, again bool) {
	t := c.n.transport
	self := raft.ServerID(c.n.cfg.ID)
	addr := t.EncodePeer(self, t.LocalAddr())
	req := &raft.AppendEntriesRequest{
		RPCHeader:         raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(self), Addr: addr},
		Term:              news.term,
		Leader:            addr,
		PrevLogEntry:      news.index,
		PrevLogTerm:       news.prevTerm,
		LeaderCommitIndex: news.index,
	}
	var resp raft.AppendEntriesResponse
	if err := t.AppendEntries(p.id, p.addr, req, &resp); err != nil {
		return false, false // unreachable: replication will find it
	}
	return resp.Success, resp.Term == news.term && resp.LastLog < news.index
}
