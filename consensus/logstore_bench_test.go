package consensus

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/rs/zerolog"
	"go.etcd.io/bbolt"
)

// BenchmarkStoreLogsAfterCompaction stores batches of 64 entries of 200
// bytes into a fresh raft.db, and into one that held 300,000 entries and
// was compacted to its last 10,000, as a node's is a minute into 5,000
// writes/s: most of the file is then free pages. bbolt's default freelist is an array written
// out on every commit; the map freelist, not synced (etcd's settings), is
// rebuilt on open instead.
//
//	go test ./consensus -run '^$' -bench StoreLogsAfterCompaction -benchtime 2000x
func BenchmarkStoreLogsAfterCompaction(b *testing.B) {
	for _, c := range []struct {
		name    string
		opts    *bbolt.Options
		compact bool
	}{
		{"fresh/default-freelist", nil, false},
		{"fresh/map-freelist-unsynced", boltOptions(), false},
		{"compacted/default-freelist", nil, true},
		{"compacted/map-freelist-unsynced", boltOptions(), true},
	} {
		b.Run(c.name, func(b *testing.B) {
			store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(b.TempDir(), "raft.db"), BoltOptions: c.opts})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			const filled, kept, batch = 300000, 10000, 64
			next := uint64(1)
			entries := func(n int) []*raft.Log {
				logs := make([]*raft.Log, n)
				for i := range logs {
					logs[i] = &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: make([]byte, 200)}
					next++
				}
				return logs
			}
			if c.compact {
				for next <= filled {
					if err := store.StoreLogs(entries(512)); err != nil {
						b.Fatal(err)
					}
				}
				if err := newLogStore(store, newMetrics(nil), zerolog.Nop()).DeleteRange(1, next-kept); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				if err := store.StoreLogs(entries(batch)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
