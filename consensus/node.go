package consensus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// Config describes one node.
type Config struct {
	ID            string // raft server id
	RaftBind      string // raft listen address, e.g. 127.0.0.1:8901
	RaftAdvertise string // the address peers use, when it differs from RaftBind
	HTTPAdvertise string // this node's API address as the other nodes reach it
	DataDir       string // raft log, stable store and snapshots
	// LogStore is the raft log store of a new data directory: "wal" (the
	// default) or "boltdb"; an existing directory keeps its own (stores.go).
	LogStore string
	// VerifyInterval, when positive, turns on raft-wal's log verifier: the
	// leader appends a checkpoint this often (verify.go).
	VerifyInterval time.Duration
	// Bootstrap makes a node with no state start a cluster: of Peers when
	// given (every node of a static cluster is given the same list), or of
	// itself alone. A node that joins a running cluster does not bootstrap.
	Bootstrap bool
	Peers     []Peer
	// Forwarder reaches the leader from a follower.
	Forwarder Forwarder
	// PeerTLS, when set, secures raft traffic with mutual TLS.
	PeerTLS *PeerTLS
	// ElectionTime bounds a failover: a new leader within twice it after
	// the leader fails. Raft's heartbeat and election timeouts (and the
	// leader's lease) are each 2/5 of it: a follower notices a lost leader
	// 1-2 heartbeat timeouts after the last contact, and a pre-vote the
	// other survivor refuses costs 1-2 election timeouts more, so the worst
	// case is 1.6x, leaving the rest for a loaded machine's delays.
	ElectionTime time.Duration
	// SnapshotThreshold is how many log entries since the last snapshot
	// trigger a new one; SnapshotInterval how often raft checks.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64 // entries kept after a snapshot, for slow followers
	ReapInterval      time.Duration
	LeaseTick         time.Duration
	Sink              EventSink
	Logger            zerolog.Logger
	// LogOutput receives raft's own log lines (JSON); nil means stderr.
	LogOutput  io.Writer
	Registerer prometheus.Registerer

	// beforeLogWrite, set by this package's tests, runs before each write
	// to the raft log: a slow disk on demand.
	beforeLogWrite func()
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.ID == "" {
		d.ID = "node1"
	}
	if d.ElectionTime == 0 {
		d.ElectionTime = 500 * time.Millisecond
	}
	if d.SnapshotThreshold == 0 {
		d.SnapshotThreshold = 16384
	}
	if d.SnapshotInterval == 0 {
		d.SnapshotInterval = 30 * time.Second
	}
	if d.TrailingLogs == 0 {
		d.TrailingLogs = 10240
	}
	if d.ReapInterval == 0 {
		d.ReapInterval = time.Second
	}
	if d.LeaseTick == 0 {
		d.LeaseTick = 100 * time.Millisecond
	}
	if d.RaftAdvertise == "" {
		d.RaftAdvertise = d.RaftBind
	}
	return d
}

// Peer is a member of a static initial cluster.
type Peer struct {
	ID   string
	Raft string
}

// Node is one raft member holding a replica of the tree.
type Node struct {
	cfg     Config
	commits *commitNotifier // the leader's commit notices to followers
	// logStoreKind is the raft log store in use: LogStoreWAL or LogStoreBoltDB.
	logStoreKind string
	// verifierStore is the log verifier, when VerifyInterval is set.
	verifierStore interface{ Close() error }
	log           zerolog.Logger
	tree          *fsm.Tree
	fsm           *raftFSM
	raft          *raft.Raft
	transport     *raft.NetworkTransport
	store         raftStore
	applied       *appliedIndex
	metrics       *metrics
	lease         *leaseClock
	verify        *verifier
	// On a follower: read indexes and keep-alives batched to the leader.
	readIndexes *batcher[struct{}, int64]
	keepAlives  *batcher[api.ID, map[api.ID]bool]

	// ready is true while this node is leader and its first barrier has
	// applied: only then do its commit index and lease clock mean anything.
	ready atomic.Bool
	// raftRef is raft once started, for the transport's goroutines, which
	// run before Open returns.
	raftRef  atomic.Pointer[raft.Raft]
	fresh    bool  // no raft state when opened
	logEnd   int64 // the last index in this node's own log when it opened
	notifyCh chan bool
	// stopped ends when Close begins: every loop and every wait of the
	// node's derives from it, so that nothing outlives Close.
	stopped context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	loops   sync.Map // name -> struct{}: the loops still running, for Close's log
	closed  sync.Once
	halt    halter // why the node stopped itself (logcheck.go)
}

// Open starts a node: it opens or creates the data directory, restores the
// latest snapshot and replays the log, and joins raft.
func Open(c Config) (*Node, error) {
	cfg := c.withDefaults()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	n := &Node{
		cfg:      cfg,
		log:      cfg.Logger.With().Str("component", "consensus").Logger(),
		tree:     fsm.NewTree(),
		applied:  newAppliedIndex(),
		metrics:  newMetrics(cfg.Registerer),
		notifyCh: make(chan bool, 16),
	}
	n.stopped, n.stop = context.WithCancel(context.Background())
	n.lease = newLeaseClock(cfg.ElectionTime)
	n.fsm = &raftFSM{tree: n.tree, applied: n.applied, sink: cfg.Sink, metrics: n.metrics, halt: n.stopOnUnreadable}
	if cfg.Sink != nil {
		n.tree.SetPublisher(cfg.Sink.Publish)
	}
	if err := n.openRaft(); err != nil {
		n.closeStores()
		return nil, err
	}
	n.verify = newVerifier(n)
	n.readIndexes = newBatcher(n.stopped, func(ctx context.Context, _ []struct{}) (int64, error) {
		return n.leaderReadIndex(ctx)
	}, &api.Error{Code: api.CodeOperationTimeout, Message: "no read index from the leader in time"})
	n.keepAlives = newBatcher(n.stopped, n.forwardKeepAlives,
		&api.Error{Code: api.CodeOperationTimeout, Message: "the keep-alive did not reach the leader in time"})
	n.goLoop("leadership", n.watchLeadership)
	n.goLoop("register-self", n.registerSelf)
	n.goLoop("commit-notify", n.commits.run)
	if cfg.VerifyInterval > 0 {
		n.goLoop("log-checkpoints", n.checkpoints)
	}
	return n, nil
}

func (n *Node) openRaft() error {
	cfg := n.cfg
	hlog := newHCLogger(n.log, cfg.LogOutput)
	store, kind, err := openLogStore(cfg.DataDir, cfg.LogStore, n.log, hlog)
	if err != nil {
		return err
	}
	n.store, n.logStoreKind = store, kind
	// Recent entries stay in memory for replication to followers; a multi
	// can be a megabyte, so the cache is kept modest.
	ls := newLogStore(store, n.metrics, n.log)
	ls.beforeWrite = cfg.beforeLogWrite
	logs, err := raft.NewLogCache(256, n.withVerifier(ls))
	if err != nil {
		return err
	}
	n.commits = newCommitNotifier(n, logs)
	n.fsm.onApplied = n.commits.applied
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, hlog)
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	if err := checkLog(store, snaps); err != nil {
		return err // an entry raft would replay that this version cannot read
	}
	var advertise net.Addr
	if cfg.RaftAdvertise != "" {
		if advertise, err = net.ResolveTCPAddr("tcp", cfg.RaftAdvertise); err != nil {
			return fmt.Errorf("raft advertise address: %w", err)
		}
	}
	if n.transport, err = n.openTransport(advertise, hlog); err != nil {
		return fmt.Errorf("raft transport on %s: %w", cfg.RaftBind, err)
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hlog
	raftTimeout := cfg.ElectionTime * 2 / 5
	rc.HeartbeatTimeout = raftTimeout
	rc.ElectionTimeout = raftTimeout
	rc.LeaderLeaseTimeout = raftTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	// Let the leader take up to 512 queued proposals into one disk write.
	rc.MaxAppendEntries = 512
	rc.BatchApplyCh = true
	rc.NotifyCh = n.notifyCh

	hasState, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		return fmt.Errorf("inspect raft state: %w", err)
	}
	n.fresh = !hasState
	n.raft, err = raft.NewRaft(rc, n.fsm, logs, store, snaps, n.transport)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	n.raftRef.Store(n.raft)
	n.logEnd = int64(n.raft.LastIndex())
	if !hasState && cfg.Bootstrap {
		conf := raft.Configuration{Servers: []raft.Server{{
			ID: rc.LocalID, Address: n.transport.LocalAddr(), Suffrage: raft.Voter,
		}}}
		if len(cfg.Peers) > 0 {
			conf.Servers = conf.Servers[:0]
			for _, p := range cfg.Peers {
				conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Raft), Suffrage: raft.Voter})
			}
		}
		ctx, cancel := context.WithTimeout(n.stopped, DefaultTimeout)
		defer cancel()
		if err := n.await(ctx, n.raft.BootstrapCluster(conf)); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			n.raft.Shutdown().Error() //nolint:errcheck // the bootstrap error is the one to report
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	return nil
}

// closeTimeout bounds each of Close's two waits: for raft to shut down,
// and for the node's loops to end.
const closeTimeout = 3 * time.Second

// goLoop runs one of the node's loops; Close waits for it.
func (n *Node) goLoop(name string, loop func()) {
	n.wg.Add(1)
	n.loops.Store(name, struct{}{})
	go func() {
		defer n.wg.Done()
		defer n.loops.Delete(name)
		loop()
	}()
}

// Close leaves raft and closes the stores, in bounded time whatever is in
// flight: it ends every wait of the node's (callers get Unavailable), shuts
// raft down, and waits for the node's loops. A wait that passes its bound
// is logged with what was still running, and Close returns anyway; the
// stores are then left open, since raft may still be using them. It is
// safe to call twice.
func (n *Node) Close() error {
	var err error
	n.closed.Do(func() {
		n.stop()
		raftDown := true
		if n.raft != nil {
			done := make(chan error, 1)
			go func() { done <- n.raft.Shutdown().Error() }()
			select {
			case err = <-done:
			case <-time.After(closeTimeout):
				raftDown = false
				err = fmt.Errorf("raft did not shut down within %v", closeTimeout)
				n.log.Error().Dur("waited", closeTimeout).Msg("raft did not shut down in time; closing without it")
			}
		}
		loopsDone := make(chan struct{})
		go func() { n.wg.Wait(); close(loopsDone) }()
		select {
		case <-loopsDone:
		case <-time.After(closeTimeout):
			var running []string
			n.loops.Range(func(k, _ any) bool { running = append(running, k.(string)); return true })
			n.log.Error().Strs("running", running).Dur("waited", closeTimeout).Msg("node loops did not stop in time; closing without them")
			err = errors.Join(err, fmt.Errorf("loops still running after %v: %v", closeTimeout, running))
			return
		}
		if raftDown {
			n.closeStores()
		}
	})
	return err
}

func (n *Node) closeStores() {
	if n.transport != nil {
		n.transport.Close()
	}
	if n.verifierStore != nil {
		n.verifierStore.Close()
	}
	if n.store != nil {
		n.store.Close()
	}
}

// LogStore is the raft log store in use: LogStoreWAL or LogStoreBoltDB.
func (n *Node) LogStore() string { return n.logStoreKind }

// Fresh reports whether the node started with no raft state: a joining
// node asks to be added only then.
func (n *Node) Fresh() bool { return n.fresh }

// Tree is the local replica, for reads.
func (n *Node) Tree() *fsm.Tree { return n.tree }

// ID is this node's raft id.
func (n *Node) ID() string { return n.cfg.ID }

// RaftAddr is the address raft listens on.
func (n *Node) RaftAddr() string { return string(n.transport.LocalAddr()) }

// Ready reports whether the node can serve: the leader once its first
// barrier has applied; a follower once it knows the leader and its API
// address, and has applied at least what its own log held when it started
// (raft applies nothing on a restart until the leader tells it the commit
// index, so until then its tree is older than what it has acknowledged).
func (n *Node) Ready() bool {
	if n.raft.State() == raft.Leader {
		return n.ready.Load()
	}
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return false
	}
	if m, ok := n.tree.Member(string(id)); !ok || m.HTTPAddr == "" {
		return false
	}
	return n.Applied() >= n.logEnd
}

// Role is raft's name for this node's state: Leader, Follower, Candidate.
func (n *Node) Role() string { return n.raft.State().String() }

// Applied is the index of the last entry the local tree has applied.
func (n *Node) Applied() int64 { return n.applied.get() }

// Snapshot forces a raft snapshot now (and the log truncation that follows).
func (n *Node) Snapshot() error { return n.await(n.stopped, n.raft.Snapshot()) }

// openTransport listens for raft: plain TCP, or mutual TLS with PeerTLS.
func (n *Node) openTransport(advertise net.Addr, logger hclog.Logger) (*raft.NetworkTransport, error) {
	if n.cfg.PeerTLS == nil {
		return raft.NewTCPTransportWithLogger(n.cfg.RaftBind, advertise, 3, 10*time.Second, logger)
	}
	conf, err := loadPeerTLS(*n.cfg.PeerTLS)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", n.cfg.RaftBind)
	if err != nil {
		return nil, err
	}
	layer := &tlsStreamLayer{Listener: ln, advertise: advertise, config: conf, isMember: n.isMember}
	return raft.NewNetworkTransportWithLogger(layer, 3, 10*time.Second, logger), nil
}
