package clustertest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/internal/testkit"
)

// compactedTo is the highest index up to which nd's log says it removed
// entries after a snapshot (raft's "compacting logs" line), 0 if none.
func (nd *node) compactedTo() uint64 {
	f, err := os.Open(nd.logPath)
	if err != nil {
		return 0
	}
	defer f.Close()
	var to uint64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"compacting logs"`) {
			continue
		}
		var l struct {
			To uint64 `json:"to"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.To > to {
			to = l.To
		}
	}
	return to
}

// TestLaggingFollowerCatchesUpBySnapshotInstall, on both log stores. With
// raft-boltdb a follower paused for a thousand writes finds its next entry
// gone from the leader's log and is sent a snapshot. raft-wal truncates
// whole segments only: entries raft compacted stay readable in the open
// segment, so the follower may catch up from the log instead; either way
// it must catch up and keep up.
func TestLaggingFollowerCatchesUpBySnapshotInstall(t *testing.T) {
	for _, store := range []string{"boltdb", "wal"} {
		t.Run(store, func(t *testing.T) { laggingFollowerCatchesUp(t, store) })
	}
}

func laggingFollowerCatchesUp(t *testing.T, store string) {
	// Snapshots every 200 entries, keeping 50 after each.
	c := startCluster(t, 3, "--snapshot-threshold", "200", "--trailing-logs", "50", "--snapshot-interval", "200ms", "--raft-log-store", store)
	leader := c.leader(t)
	lagger := c.others(leader)[0]
	mustCreate(t, leader, "/snap", "")
	before := syncZxid(t, lagger)
	lagger.pause(t)
	pausedAt := time.Now()

	live := c.others(lagger)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				nd := live[(w+i)%len(live)]
				p := fmt.Sprintf("/snap/w%d-%03d", w, i)
				if err := createRetrying(nd, p, p); err != nil {
					errs <- err.Error()
					return
				}
				if err := setRetrying(nd, p, "again"); err != nil {
					errs <- err.Error()
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	// The leader's log no longer holds the entry after the lagger's.
	testkit.WaitExplained(t, 20*time.Second, leader.id+" compacts its log past "+lagger.id+"'s index", func() (bool, string) {
		to := leader.compactedTo()
		return to > uint64(before)+1, fmt.Sprintf("compacted to %d, %s is at %d", to, lagger.id, before)
	})

	lagger.resume(t)
	c.waitCaughtUp(t, lagger)
	t.Logf("%s paused at zxid %d for %v; caught up; leader compacted to %d", lagger.id, before, time.Since(pausedAt).Round(time.Millisecond), leader.compactedTo())
	if store == "boltdb" && !lagger.logContains("Installed remote snapshot") {
		t.Errorf("%s caught up without logging a snapshot install (raft's \"Installed remote snapshot\")", lagger.id)
	}
	c.waitSameTree(t, "/snap", c.nodes...)

	// It keeps up afterwards through ordinary replication.
	mustCreate(t, leader, "/snap/after", "")
	if r := get(lagger, "/v1/nodes/snap/after", requestTimeout); r.Status != http.StatusOK {
		t.Errorf("linearizable read on %s after the install: %s", lagger.id, r)
	}
}
