// Package testnode starts real Canopy nodes in-process for tests: the same
// server.Main the canopy binary runs, with real raft on loopback sockets
// and a temporary data directory.
package testnode

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/server"
)

// Node is one running node.
type Node struct {
	ID  string
	URL string // http://127.0.0.1:port, https:// with TLS
	t   testing.TB
	m   *server.Main

	opts []Option

	mu     sync.Mutex
	closed bool
}

// Option adjusts a node's configuration before it starts.
type Option func(*server.Main)

// ElectionTimeout for test nodes: short, so clusters form and fail over
// quickly, yet long enough for a loaded 2-core machine.
const ElectionTimeout = 300 * time.Millisecond

// Start runs a single-node cluster and waits until it is ready. It stops
// when the test ends.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	nd := newNode(t, "n1", opts...)
	nd.m.RaftAddr = "127.0.0.1:0"
	nd.start()
	nd.WaitReady(10 * time.Second)
	return nd
}

// Launch runs a single-node cluster in dataDir outside any test (for a
// TestMain whose examples need a server) and waits until it is ready. The
// caller stops it with Stop.
func Launch(dataDir string, opts ...Option) (*Node, error) {
	m := configure(io.Discard, "n1", dataDir, opts)
	m.RaftAddr = "127.0.0.1:0"
	if err := m.Run(context.Background()); err != nil {
		return nil, err
	}
	nd := &Node{ID: "n1", URL: m.HTTPURL(), m: m}
	if err := nd.waitReady(10 * time.Second); err != nil {
		nd.Stop()
		return nil, err
	}
	return nd, nil
}

// StartCluster runs an n-node cluster (static --peers) and waits until
// every node is ready.
func StartCluster(t testing.TB, n int, opts ...Option) []*Node {
	t.Helper()
	nodes := make([]*Node, n)
	var peers []string
	for i := range nodes {
		nodes[i] = newNode(t, fmt.Sprintf("n%d", i+1), opts...)
		nodes[i].m.RaftAddr = testkit.FreePort(t)
		peers = append(peers, nodes[i].ID+"="+nodes[i].m.RaftAddr)
	}
	for _, nd := range nodes {
		nd.m.Peers = strings.Join(peers, ",")
		nd.start()
	}
	for _, nd := range nodes {
		nd.WaitReady(30 * time.Second)
	}
	return nodes
}

func newNode(t testing.TB, id string, opts ...Option) *Node {
	return &Node{ID: id, t: t, m: configure(logSink(t), id, t.TempDir(), opts), opts: opts}
}

func configure(log io.Writer, id, dataDir string, opts []Option) *server.Main {
	m := server.New(log)
	m.ID = id
	m.HTTPAddr = "127.0.0.1:0"
	m.DataDir = dataDir
	m.ElectionTimeout = ElectionTimeout
	m.LogLevel = "warn"
	m.SnapshotInterval = 30 * time.Second
	m.SnapshotThreshold = 16384
	m.TrailingLogs = 10240
	m.ReapInterval = 200 * time.Millisecond
	for _, o := range opts {
		o(m)
	}
	return m
}

func (nd *Node) start() {
	nd.t.Helper()
	if err := nd.m.Run(context.Background()); err != nil {
		nd.t.Fatalf("start node %s: %v", nd.ID, err)
	}
	nd.URL = nd.m.HTTPURL()
	nd.t.Cleanup(func() { nd.Stop() })
}

// Main is the running node, for what a test does as the binary would (a
// SIGHUP's ReloadTLS).
func (nd *Node) Main() *server.Main {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.m
}

// Stop shuts the node down (gracefully); stopping twice is harmless.
func (nd *Node) Stop() {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.closed {
		return
	}
	nd.closed = true
	if err := nd.m.Close(); err != nil && nd.t != nil {
		nd.t.Logf("close node %s: %v", nd.ID, err)
	}
}

// Restart starts a stopped node again on the same addresses and data
// directory, and waits until it is ready.
func (nd *Node) Restart() {
	nd.t.Helper()
	nd.Stop()
	old := nd.m
	m := configure(logSink(nd.t), nd.ID, old.DataDir, nd.opts)
	m.RaftAddr, m.Peers = old.RaftAddr, old.Peers
	_, m.HTTPAddr, _ = strings.Cut(nd.URL, "://")
	nd.mu.Lock()
	nd.m, nd.closed = m, false
	nd.mu.Unlock()
	if err := m.Run(context.Background()); err != nil {
		nd.t.Fatalf("restart node %s: %v", nd.ID, err)
	}
	nd.WaitReady(30 * time.Second)
}

// WaitReady waits until /readyz answers 200.
func (nd *Node) WaitReady(timeout time.Duration) {
	nd.t.Helper()
	if err := nd.waitReady(timeout); err != nil {
		nd.t.Fatal(err)
	}
}

func (nd *Node) waitReady(timeout time.Duration) error {
	// Ready, and quiet: the node's own member record is in, so a test
	// that reads the applied zxid and then writes sees only its writes.
	err := testkit.Poll(timeout, func() (bool, string) {
		client := http.DefaultClient
		if strings.HasPrefix(nd.URL, "https:") {
			client = readyTLSClient
		}
		resp, err := client.Get(nd.URL + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, resp.Status
		}
		return nd.m.Registered(), "its member record is not in yet"
	})
	if err != nil {
		return fmt.Errorf("node %s not ready: %w", nd.ID, err)
	}
	return nil
}

// readyTLSClient asks TLS nodes for readiness: the tests that start them
// check their certificates themselves. It keeps no connection open, which
// would count against a node's --max-client-conns.
var readyTLSClient = &http.Client{Transport: &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
	DisableKeepAlives: true,
}}

// logSink sends a node's log lines to the test log when -v is given, and
// nowhere otherwise.
func logSink(t testing.TB) io.Writer {
	if testing.Verbose() {
		return os.Stderr
	}
	return io.Discard
}
