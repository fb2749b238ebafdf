package consensus

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/fsm"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// testCA issues certificates for node ids (testkit's CA), with its own
// directory holding them and the CA's PEM.
type testCA struct {
	dir    string
	caFile string
	ca     *testkit.CA
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	c := &testCA{dir: t.TempDir(), ca: testkit.NewCA(t, "canopy test CA")}
	c.caFile = filepath.Join(c.dir, "ca.pem")
	testkit.WriteFile(t, c.caFile, c.ca.PEM)
	return c
}

// issue writes into ca's directory a certificate for id signed by signer,
// with ca's PEM as the CA to trust.
func (ca *testCA) issue(t *testing.T, id string, signer *testCA) *PeerTLS {
	t.Helper()
	cert, key := signer.ca.IssueFiles(t, ca.dir, id, "127.0.0.1")
	return &PeerTLS{CertFile: cert, KeyFile: key, CAFile: ca.caFile}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// openTLSCluster starts in-process nodes of a static cluster, over mutual
// TLS with the given certificates (plain TCP when certs is nil).
func openTLSCluster(t *testing.T, ca *testCA, ids []string, certs map[string]*PeerTLS) map[string]*Node {
	t.Helper()
	addrs := map[string]string{}
	var peers []Peer
	for _, id := range ids {
		addrs[id] = freeAddr(t)
		peers = append(peers, Peer{ID: id, Raft: addrs[id]})
	}
	nodes := map[string]*Node{}
	for _, id := range ids {
		n, err := Open(Config{
			ID: id, DataDir: t.TempDir(), RaftBind: addrs[id], Bootstrap: true, Peers: peers,
			ElectionTime: 300 * time.Millisecond, PeerTLS: certs[id],
			Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry(),
		})
		if err != nil {
			t.Fatalf("open %s: %v", id, err)
		}
		t.Cleanup(func() { n.Close() })
		nodes[id] = n
	}
	return nodes
}

func leaderOf(nodes map[string]*Node) *Node {
	for _, n := range nodes {
		if n.Role() == "Leader" && n.Ready() {
			return n
		}
	}
	return nil
}

func TestPeersOverMutualTLSReplicate(t *testing.T) {
	ca := newTestCA(t)
	ids := []string{"n1", "n2", "n3"}
	certs := map[string]*PeerTLS{}
	for _, id := range ids {
		certs[id] = ca.issue(t, id, ca)
	}
	nodes := openTLSCluster(t, ca, ids, certs)
	testkit.WaitFor(t, 15*time.Second, "a TLS leader", func() bool { return leaderOf(nodes) != nil })
	res, zxid, err := leaderOf(nodes).Propose(context.Background(), create("/over-tls", "x"))
	if err != nil || res.Err != nil {
		t.Fatalf("propose: %v %v", err, res.Err)
	}
	for id, n := range nodes {
		testkit.WaitFor(t, 10*time.Second, id+" applies the write", func() bool { return n.Applied() >= zxid })
		if _, _, err := n.Tree().Stat("/over-tls"); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
}

func TestPeerTLSRefusesStrangersAndForeignCertificates(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	certs := map[string]*PeerTLS{
		"n1": ca.issue(t, "n1", ca),
		// n2 holds a certificate from another CA: n1 must refuse it.
		"n2": ca.issue(t, "n2", other),
	}
	nodes := openTLSCluster(t, ca, []string{"n1", "n2"}, certs)
	// Two voters that cannot talk never elect a leader.
	never(t, 2*time.Second, "a leader elected over a certificate from a foreign CA", func() bool { return leaderOf(nodes) != nil })

	// A certificate from the right CA for an id that is not a member.
	good := map[string]*PeerTLS{"m1": ca.issue(t, "m1", ca)}
	members := openTLSCluster(t, ca, []string{"m1"}, good)
	m1 := members["m1"]
	testkit.WaitFor(t, 10*time.Second, "m1 leads", func() bool { return m1.Ready() })
	term := m1.raft.CurrentTerm()
	intruder, err := Open(Config{
		ID: "intruder", DataDir: t.TempDir(), RaftBind: freeAddr(t), Bootstrap: true,
		Peers:        []Peer{{ID: "intruder", Raft: "127.0.0.1:0"}, {ID: "m1", Raft: m1.RaftAddr()}},
		ElectionTime: 200 * time.Millisecond, PeerTLS: ca.issue(t, "intruder", ca),
		Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { intruder.Close() })
	// The intruder campaigns over and over; m1 must not even hear it.
	never(t, 2*time.Second, "a non-member moving m1's term", func() bool { return m1.raft.CurrentTerm() != term || !m1.Ready() })
	if _, _, err := m1.Propose(context.Background(), &fsm.Command{Op: fsm.OpCreate, Path: "/still-works", Version: fsm.AnyVersion}); err != nil {
		t.Fatalf("m1 after the intruder: %v", err)
	}
}
