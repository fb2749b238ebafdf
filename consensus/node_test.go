package consensus

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// openNode starts a real single-voter raft node in dir and waits until it
// leads and has committed its barrier.
func openNode(t *testing.T, dir string, tweak ...func(*Config)) *Node {
	t.Helper()
	cfg := Config{
		DataDir: dir, RaftBind: "127.0.0.1:0", Bootstrap: true,
		ElectionTime: 150 * time.Millisecond, ReapInterval: 100 * time.Millisecond,
		LeaseTick: 20 * time.Millisecond, Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry(),
	}
	for _, f := range tweak {
		f(&cfg)
	}
	n, err := Open(cfg)
	if err != nil {
		t.Fatalf("open node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	testkit.WaitFor(t, 10*time.Second, "node ready", n.Ready)
	return n
}

// never fails if cond becomes true at any time within d: a bounded
// observation that something must not happen.
func never(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			t.Fatalf("%s happened", what)
		}
	}
}

func propose(t *testing.T, n *Node, cmd *fsm.Command) fsm.Result {
	t.Helper()
	res, _, err := n.Propose(context.Background(), cmd)
	if err != nil {
		t.Fatalf("propose %s %s: %v", cmd.Op, cmd.Path, err)
	}
	return res
}

func create(path, data string) *fsm.Command {
	return &fsm.Command{Op: fsm.OpCreate, Path: path, Data: []byte(data), Version: fsm.AnyVersion}
}

func TestProposeReturnsTheEntryIndexAsZxid(t *testing.T) {
	n := openNode(t, t.TempDir())
	res, zxid, err := n.Propose(context.Background(), create("/a", "x"))
	if err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	if res.Stat.Czxid != zxid || n.Applied() < zxid {
		t.Fatalf("czxid %d, zxid %d, applied %d: want czxid == zxid <= applied", res.Stat.Czxid, zxid, n.Applied())
	}
	res = propose(t, n, create("/a", "again"))
	if api.CodeOf(res.Err) != api.CodeNodeExists {
		t.Fatalf("second create: got %v, want NodeExists", res.Err)
	}
}

func TestRestartKeepsTreeSessionsAndSequence(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir)
	propose(t, n, create("/app", "v1"))
	sess, _, err := n.CreateSession(context.Background(), 30000, nil)
	if err != nil {
		t.Fatal(err)
	}
	eph := &fsm.Command{Op: fsm.OpCreate, Path: "/app/e", Flags: fsm.FlagEphemeral, Session: sess.ID, Version: fsm.AnyVersion}
	propose(t, n, eph)
	if err := n.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	// Entries after the snapshot come back from the log, not the snapshot.
	propose(t, n, &fsm.Command{Op: fsm.OpSetData, Path: "/app", Data: []byte("v2"), Version: 0})
	propose(t, n, &fsm.Command{Op: fsm.OpCreate, Path: "/app/s-", Flags: fsm.FlagSequential, Version: fsm.AnyVersion})
	wantData, wantStat, _, _ := n.Tree().Get("/app")
	wantApplied := n.Applied()
	n.Close()

	n2 := openNode(t, dir)
	testkit.WaitFor(t, 5*time.Second, "log replay", func() bool { return n2.Applied() >= wantApplied })
	data, stat, _, err := n2.Tree().Get("/app")
	if err != nil || data != wantData || stat != wantStat {
		t.Fatalf("after restart /app = %q %+v (%v); want %q %+v", data, stat, err, wantData, wantStat)
	}
	info, _, err := n2.Tree().Session(sess.ID)
	if err != nil || len(info.Ephemerals) != 1 || info.Ephemerals[0] != "/app/e" {
		t.Fatalf("after restart session = %+v, %v; want it open with /app/e", info, err)
	}
	res := propose(t, n2, &fsm.Command{Op: fsm.OpCreate, Path: "/app/s-", Flags: fsm.FlagSequential, Version: fsm.AnyVersion})
	if res.Path != "/app/s-0000000002" {
		t.Fatalf("sequential after restart: got %s, want /app/s-0000000002 (parent cversion 2)", res.Path)
	}
}

func TestSessionExpiresAfterItsTimeoutAndNotBefore(t *testing.T) {
	n := openNode(t, t.TempDir())
	sess, _, err := n.CreateSession(context.Background(), 2000, nil)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	propose(t, n, &fsm.Command{Op: fsm.OpCreate, Path: "/e", Flags: fsm.FlagEphemeral, Session: sess.ID, Version: fsm.AnyVersion})
	testkit.WaitFor(t, 10*time.Second, "session expiry", func() bool {
		_, _, err := n.Tree().Session(sess.ID)
		return err != nil
	})
	if lived := time.Since(created); lived < 2*time.Second {
		t.Fatalf("session expired after %v, before its 2s timeout", lived)
	}
	if _, _, err := n.Tree().Stat("/e"); api.CodeOf(err) != api.CodeNoNode {
		t.Fatalf("ephemeral after expiry: %v, want NoNode", err)
	}
}

func TestKeepAliveHoldsSessionOpen(t *testing.T) {
	n := openNode(t, t.TempDir())
	sess, _, err := n.CreateSession(context.Background(), 2000, nil)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		if _, err := n.KeepAlive(context.Background(), sess.ID); err != nil {
			t.Fatalf("keepalive: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if _, _, err := n.Tree().Session(sess.ID); err != nil {
		t.Fatalf("session kept alive for 3s with a 2s timeout is gone: %v", err)
	}
	if left, ok := n.SessionRemaining(sess.ID); !ok || left <= 0 || left > 2*time.Second {
		t.Fatalf("remaining = %v, %v; want within (0, 2s]", left, ok)
	}
}

func TestLeaderReapsEmptyContainersAndExpiredTTLNodes(t *testing.T) {
	n := openNode(t, t.TempDir())
	propose(t, n, &fsm.Command{Op: fsm.OpCreate, Path: "/c", Flags: fsm.FlagContainer, Version: fsm.AnyVersion})
	propose(t, n, &fsm.Command{Op: fsm.OpCreate, Path: "/fresh", Flags: fsm.FlagContainer, Version: fsm.AnyVersion})
	propose(t, n, create("/c/kid", ""))
	propose(t, n, &fsm.Command{Op: fsm.OpDelete, Path: "/c/kid", Version: fsm.AnyVersion})
	propose(t, n, &fsm.Command{Op: fsm.OpCreate, Path: "/ttl", TTL: 300, Version: fsm.AnyVersion})
	testkit.WaitFor(t, 10*time.Second, "reaping", func() bool {
		_, _, errC := n.Tree().Stat("/c")
		_, _, errT := n.Tree().Stat("/ttl")
		return errC != nil && errT != nil
	})
	if _, _, err := n.Tree().Stat("/fresh"); err != nil {
		t.Fatalf("a container that never had a child was reaped: %v", err)
	}
}

func TestConcurrentLinearizableReadsShareLeadershipChecks(t *testing.T) {
	// A sole voter needs no check at all.
	single := openNode(t, t.TempDir())
	if rounds := concurrentReads(t, single, 200); rounds != 0 {
		t.Fatalf("a single-voter leader made %v leadership checks", rounds)
	}
	// Three voters: the reads share rounds.
	nodes := openTLSCluster(t, nil, []string{"a", "b", "c"}, nil)
	testkit.WaitFor(t, 15*time.Second, "a leader", func() bool { return leaderOf(nodes) != nil })
	rounds := concurrentReads(t, leaderOf(nodes), 200)
	if rounds < 1 || rounds >= 200 {
		t.Fatalf("%v leadership checks for 200 concurrent reads, want between 1 and 199", rounds)
	}
	t.Logf("200 concurrent reads on a 3-node leader took %v leadership checks", rounds)
}

func concurrentReads(t *testing.T, n *Node, readers int) float64 {
	t.Helper()
	before := counterValue(t, n.metrics.verifyRounds)
	var wg sync.WaitGroup
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Linearize(context.Background()); err != nil {
				t.Errorf("linearize: %v", err)
			}
		}()
	}
	wg.Wait()
	return counterValue(t, n.metrics.verifyRounds) - before
}

func TestConcurrentProposalsAreBatched(t *testing.T) {
	n := openNode(t, t.TempDir())
	const writers, each = 64, 20
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				cmd := &fsm.Command{Op: fsm.OpCreate, Path: "/w-", Flags: fsm.FlagSequential, Version: fsm.AnyVersion}
				if _, _, err := n.Propose(context.Background(), cmd); err != nil {
					t.Errorf("propose: %v", err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	count, sum := histogramValue(t, n.metrics.applyBatch)
	if mean := sum / float64(count); mean < 2 {
		t.Fatalf("mean apply batch %.2f entries over %d batches: 64 concurrent writers were not batched", mean, count)
	}
	if got, _ := n.Tree().Children("/", "", 0, false); len(got.Names) != writers*each+1 {
		t.Fatalf("%d children of /, want %d", len(got.Names), writers*each+1)
	}
}

func TestLeaderForgetsMemberRecordsOfNonMembers(t *testing.T) {
	n := openNode(t, t.TempDir())
	propose(t, n, &fsm.Command{Op: fsm.OpSetMember, Path: "ghost", RaftAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2"})
	testkit.WaitFor(t, 10*time.Second, "the ghost's record to go", func() bool {
		_, ok := n.Tree().Member("ghost")
		return !ok
	})
	if _, ok := n.Tree().Member(n.ID()); !ok {
		t.Fatal("the leader forgot its own record")
	}
}
