package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// TestNodeRestartsWithItsTreeAfterALargeCompaction: thousands of entries
// compacted at once (in several transactions), then a restart, which
// rebuilds bbolt's free page list from the file: the tree is whole, and
// the node takes writes again.
func TestNodeRestartsWithItsTreeAfterALargeCompaction(t *testing.T) {
	t.Parallel()
	var dataDir string
	nd := testnode.Start(t, func(m *server.Main) {
		m.SnapshotThreshold, m.TrailingLogs, m.SnapshotInterval = 5000, 100, 200*time.Millisecond
		dataDir = m.DataDir
	})
	c, ctx := newClient(t, nd, 60*time.Second)
	const writes = 6000
	if _, _, err := c.Create(ctx, "/d", nil, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := w; i < writes; i += 32 {
				if _, _, err := c.Create(ctx, fmt.Sprintf("/d/n%05d", i), []byte("x"), nil); err != nil {
					t.Errorf("create %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	// A snapshot past 5,000 entries, and with it a compaction of all but
	// the last 100.
	testkit.WaitFor(t, 20*time.Second, "no snapshot taken", func() bool {
		entries, _ := os.ReadDir(filepath.Join(dataDir, "snapshots"))
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".tmp") {
				return true
			}
		}
		return false
	})

	nd.Restart()
	kids, _, err := c.Children(ctx, "/d")
	if err != nil || len(kids) != writes {
		t.Fatalf("after the restart /d has %d children (%v), want %d", len(kids), err, writes)
	}
	if _, _, err := c.Create(ctx, "/d/after", nil, nil); err != nil {
		t.Fatalf("a write after the restart: %v", err)
	}
}
