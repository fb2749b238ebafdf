package raftnode

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/consensus"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// Open starts a bootstrapped single-voter node on t.TempDir() and
// 127.0.0.1:0, waits until it is ready, and closes it when the test ends.
// Each tweak adjusts the configuration before the node opens; the node
// gets its own prometheus registry unless a tweak sets one.
//
// The reaper and the lease tick run faster than in production, so that
// tests of expiry and reaping wait tens of milliseconds rather than
// seconds; a test that needs another value sets it with a tweak.
func Open(t testing.TB, tweak ...func(*consensus.Config)) *consensus.Node {
	t.Helper()
	cfg := consensus.Config{
		DataDir:      t.TempDir(),
		RaftBind:     "127.0.0.1:0",
		Bootstrap:    true,
		ElectionTime: 150 * time.Millisecond,
		ReapInterval: 100 * time.Millisecond,
		LeaseTick:    20 * time.Millisecond,
		Logger:       zerolog.Nop(),
	}
	for _, f := range tweak {
		f(&cfg)
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	node, err := consensus.Open(cfg)
	if err != nil {
		t.Fatalf("consensus.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := node.Close(); err != nil {
			t.Errorf("node close: %v", err)
		}
	})
	// Ready, and quiet: the node's own first entry (its member record)
	// is in, so a test that reads the applied zxid and then writes sees
	// only its own writes after it.
	testkit.WaitFor(t, 10*time.Second, "the raft node to be ready and registered", func() bool {
		_, registered := node.Tree().Member(node.ID())
		return node.Ready() && registered
	})
	return node
}
