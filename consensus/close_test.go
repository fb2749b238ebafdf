package consensus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// A node closed at any moment, from the first milliseconds after Open
// (while it elects itself and registerSelf proposes) to well into a load,
// closes in bounded time, and every proposal in flight returns: a success
// or Unavailable, never a hang. The slow disk in half the rounds keeps
// raft's leader loop busy writing while proposals queue behind it in its
// buffered apply channel, where hashicorp/raft never answers a future that
// is still queued when it shuts down (hashicorp/raft#498).
func TestCloseEndsEveryWaitWhileProposing(t *testing.T) {
	const (
		proposers  = 8
		closeBound = 5 * time.Second // Close itself gives up on raft after closeTimeout
		drainBound = 5 * time.Second
	)
	root := t.TempDir()
	// CANOPY_CLOSE_ROUNDS raises the count for a longer hunt.
	for round := range testkit.Rounds(t, "CANOPY_CLOSE_ROUNDS", 200) {
		slowDisk := round%2 == 1
		cfg := Config{
			DataDir: filepath.Join(root, fmt.Sprint(round)), RaftBind: "127.0.0.1:0", Bootstrap: true,
			ElectionTime: 150 * time.Millisecond, Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry(),
			LogOutput: discard{},
		}
		if slowDisk {
			cfg.beforeLogWrite = func() { time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond) }
		}
		n, err := Open(cfg)
		if err != nil {
			t.Fatalf("round %d: open: %v", round, err)
		}
		var (
			closing   atomic.Bool
			wg        sync.WaitGroup
			mu        sync.Mutex
			bad       []string
			succeeded atomic.Int64
		)
		for g := range proposers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !closing.Load(); i++ {
					cmd := &fsm.Command{Op: fsm.OpCreate, Path: fmt.Sprintf("/p%d-%d", g, i), Version: fsm.AnyVersion}
					// No deadline of its own: only the node may end the wait.
					_, _, err := n.Propose(context.Background(), cmd)
					switch {
					case err == nil:
						succeeded.Add(1)
					case api.CodeOf(err) != api.CodeUnavailable:
						mu.Lock()
						bad = append(bad, fmt.Sprintf("proposer %d: %v", g, err))
						mu.Unlock()
						return
					default:
						time.Sleep(time.Millisecond) // no leader yet: try again, as a client would
					}
				}
			}()
		}
		// The moment of closing is the point of the test: uniform over the
		// election and the first writes.
		time.Sleep(time.Duration(rand.IntN(150_000)) * time.Microsecond)
		closing.Store(true)
		start := time.Now()
		closed := make(chan error, 1)
		go func() { closed <- n.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("round %d: close: %v", round, err)
			}
		case <-time.After(closeBound):
			t.Fatalf("round %d (slow disk %v): Close still running after %v", round, slowDisk, closeBound)
		}
		tookClose := time.Since(start)
		drained := make(chan struct{})
		go func() { wg.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(drainBound):
			t.Fatalf("round %d (slow disk %v): a proposal still waits %v after Close returned (Close took %v, %d proposals succeeded)",
				round, slowDisk, drainBound, tookClose, succeeded.Load())
		}
		if len(bad) > 0 {
			t.Fatalf("round %d: proposals failed with other than Unavailable: %v", round, bad)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
