package fsm_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/canopy-coord/canopy/fsm"
)

// TestReadsAndSnapshotsRunConcurrentlyWithApply applies a random history on
// one goroutine (raft's), while readers walk the tree and a snapshotter
// takes and writes snapshots. Under -race this checks the locking and the
// copy-on-write index; afterwards each snapshot must restore to exactly the
// state a sequential replay reaches at the snapshot's applied index.
func TestReadsAndSnapshotsRunConcurrentlyWithApply(t *testing.T) {
	commands := 1500
	if testing.Short() {
		commands = 300
	}
	tree := fsm.NewTree()
	g := newHistoryGen(7)
	history := make([]*fsm.Command, 0, commands)

	type taken struct {
		applied int64
		data    []byte
	}
	var (
		wg    sync.WaitGroup
		done  = make(chan struct{})
		snaps []taken
	)
	wg.Add(3)
	for r := 0; r < 2; r++ {
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				tree.Get("/a")
				tree.Stat("/a/b")
				tree.Children("/", "", 0, true)
				tree.Children("/a", "b", 2, false)
				tree.Subtree("/", 4, 200)
				tree.Sessions()
				tree.SessionTimeouts()
				tree.Counts()
				tree.ReapCandidates(t0 + 1e6)
				tree.Applied()
			}
		}()
	}
	go func() {
		defer wg.Done()
		for {
			snap := tree.Snapshot()
			var buf bytes.Buffer
			if _, err := snap.WriteTo(&buf); err != nil {
				t.Error(err)
				return
			}
			snaps = append(snaps, taken{applied: snap.Applied(), data: buf.Bytes()})
			select {
			case <-done:
				return
			default:
			}
		}
	}()

	// The generator reads the tree too (ReapCandidates), as the leader's
	// reaper does.
	for i := 0; i < commands; i++ {
		cmd := g.next(tree)
		res, _ := tree.Apply(int64(i+1), &cmd)
		g.learn(res)
		history = append(history, &cmd)
	}
	close(done)
	wg.Wait()
	if len(snaps) == 0 {
		t.Fatal("no snapshot was taken")
	}

	// Replay sequentially and compare snapshots (at most about 50 of them)
	// with the replay at their index.
	replay := fsm.NewTree()
	next, checked, mid := 0, 0, 0
	step := max(1, len(snaps)/50)
	for i, s := range snaps {
		if i%step != 0 && i != len(snaps)-1 {
			continue
		}
		for ; int64(next) < s.applied; next++ {
			replay.Apply(int64(next+1), history[next])
		}
		restored := fsm.NewTree()
		if err := restored.Restore(bytes.NewReader(s.data)); err != nil {
			t.Fatalf("snapshot at %d: %v", s.applied, err)
		}
		if d := diffStates(captureState(t, replay), captureState(t, restored)); d != "" {
			t.Fatalf("snapshot at %d differs from the replay: %s", s.applied, d)
		}
		checked++
		if s.applied > 0 && s.applied < int64(commands) {
			mid++
		}
	}
	t.Logf("%d snapshots taken, %d checked, %d of them mid-history", len(snaps), checked, mid)
}
