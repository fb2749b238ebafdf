package consensus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/internal/testkit"
)

func TestChooseLogStore(t *testing.T) {
	mk := func(files ...string) string {
		dir := t.TempDir()
		for _, f := range files {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o700); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(f, "/") {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, tc := range []struct {
		name, asked, want string
		files             []string
		refused           bool
	}{
		{"new directory: boltdb until raft-wal's tail truncation is fixed", "", LogStoreBoltDB, nil, false},
		{"new directory, boltdb asked", LogStoreBoltDB, LogStoreBoltDB, nil, false},
		{"new directory, wal asked", LogStoreWAL, LogStoreWAL, nil, false},
		{"an old bolt directory keeps bolt", "", LogStoreBoltDB, []string{"raft.db"}, false},
		{"a wal directory keeps wal", "", LogStoreWAL, []string{"wal/"}, false},
		{"bolt directory, wal asked: never switched in place", LogStoreWAL, "", []string{"raft.db"}, true},
		{"wal directory, boltdb asked", LogStoreBoltDB, "", []string{"wal/"}, true},
		{"both", "", "", []string{"raft.db", "wal/"}, true},
		{"unknown store", "rocksdb", "", nil, true},
	} {
		got, err := chooseLogStore(mk(tc.files...), tc.asked)
		if tc.refused != (err != nil) || got != tc.want {
			t.Errorf("%s: %q, %v; want %q (refused %v)", tc.name, got, err, tc.want, tc.refused)
		}
	}
}

// TestANodeStartedOnABoltDirectoryOfThePreviousVersionFindsItsTree: the
// data directory in testdata was written by canopy at c7f7dc4 (raft-boltdb
// only): a node opened on it keeps bolt and has the tree it held.
func TestANodeStartedOnABoltDirectoryOfThePreviousVersionFindsItsTree(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/bolt-c7f7dc4/raft.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "raft.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	n := openNode(t, dir, func(c *Config) { c.ID = "node1"; c.Logger = c.Logger.Output(logs) })
	if got := n.LogStore(); got != LogStoreBoltDB {
		t.Fatalf("log store %q, want boltdb", got)
	}
	testkit.WaitFor(t, 10*time.Second, "the old tree", func() bool {
		data, _, _, err := n.Tree().Get("/app")
		return err == nil && data == "v2"
	})
	if data, _, _, err := n.Tree().Get("/app/config"); err != nil || data != `{"a":1}` {
		t.Fatalf("/app/config = %q, %v", data, err)
	}
	if _, _, err := n.Tree().Stat("/app/q-0000000001"); err != nil {
		t.Fatalf("the sequential node: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "wal")); err == nil {
		t.Fatal("a wal directory was made beside raft.db")
	}
}

// TestANodeOnTheWALKeepsItsTreeAcrossARestart.
func TestANodeOnTheWALKeepsItsTreeAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	n, cfg := openNodeConfig(t, dir, func(c *Config) { c.LogStore = LogStoreWAL })
	if got := n.LogStore(); got != LogStoreWAL {
		t.Fatalf("log store %q, want wal", got)
	}
	propose(t, n, create("/kept", "yes"))
	n.Close()
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); err == nil {
		t.Fatal("a WAL node made raft.db")
	}
	n2, err := reopen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	testkit.WaitFor(t, 10*time.Second, "the tree after a restart", func() bool {
		data, _, _, err := n2.Tree().Get("/kept")
		return err == nil && data == "yes"
	})
}
