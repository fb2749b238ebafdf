package consensus

import (
	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
)

// boltOptions are etcd's for its bbolt backend: the map freelist, not
// written on each commit but rebuilt when the file is opened. The default
// array freelist is serialized on every commit, and after raft compacts
// its log most of raft.db is free pages: a minute into 5,000 writes/s,
// 290,000 entries' worth.
func boltOptions() *bbolt.Options {
	return &bbolt.Options{NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}
}

// chunkedDeletes deletes a prefix of the log (raft's compaction after a
// snapshot) in transactions of deleteChunk entries rather than one.
// raft-boltdb holds bolt's only write transaction for a whole DeleteRange:
// at 5,000 writes/s a snapshot's 300,000 entries held it for 0.65 s, and
// no write could be stored meanwhile. Between chunks, StoreLogs gets its
// turn. Deleting from the lowest index up leaves the log contiguous if the
// node stops midway. Any other range (a follower's conflicting suffix, a
// few entries) goes in one transaction, as before.
type chunkedDeletes struct {
	raft.LogStore
}

const deleteChunk = 4096

func (s chunkedDeletes) DeleteRange(min, max uint64) error {
	first, err := s.FirstIndex()
	if err != nil {
		return err
	}
	if max < min || min > first || max-min < deleteChunk {
		return s.LogStore.DeleteRange(min, max)
	}
	for lo := min; ; {
		hi := max
		if max-lo >= deleteChunk {
			hi = lo + deleteChunk - 1
		}
		if err := s.LogStore.DeleteRange(lo, hi); err != nil {
			return err
		}
		if hi == max {
			return nil
		}
		lo = hi + 1
	}
}
