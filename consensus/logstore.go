package consensus

import (
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
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

// logStore is the raft log as raft sees it: raft-boltdb, with each write
// timed (a commit waits for it, and it is where a slow disk shows, as
// etcd's WAL fsync duration and ZooKeeper's fsync warning show it) and
// compactions cut into transactions.
type logStore struct {
	raft.LogStore
	seconds prometheus.Observer
	log     zerolog.Logger
	slow    time.Duration // a write at least this long is logged as a warning
	// beforeWrite, when set (by tests), runs before each write: a slow
	// disk on demand.
	beforeWrite func()
}

// slowLogWrite is ZooKeeper's fsync.warningthresholdms.
const slowLogWrite = time.Second

func newLogStore(store raft.LogStore, m *metrics, log zerolog.Logger) *logStore {
	return &logStore{LogStore: store, seconds: m.logStoreSeconds, log: log, slow: slowLogWrite}
}

func (s *logStore) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

func (s *logStore) StoreLogs(logs []*raft.Log) error {
	if s.beforeWrite != nil {
		s.beforeWrite()
	}
	start := time.Now()
	err := s.LogStore.StoreLogs(logs)
	took := time.Since(start)
	s.seconds.Observe(took.Seconds())
	if took >= s.slow && len(logs) > 0 {
		s.log.Warn().Dur("took", took).Int("entries", len(logs)).Uint64("first_index", logs[0].Index).
			Msg("writing to the raft log was slow; every write waits for it: check the disk under --data-dir")
	}
	return err
}

// DeleteRange deletes a prefix of the log (raft's compaction after a
// snapshot) in transactions of deleteChunk entries rather than one.
// raft-boltdb holds bolt's only write transaction for a whole DeleteRange:
// at 5,000 writes/s a snapshot's 300,000 entries held it for 0.65 s, and
// no write could be stored meanwhile. Between chunks, StoreLogs gets its
// turn. Deleting from the lowest index up leaves the log contiguous if the
// node stops midway. Any other range (a follower's conflicting suffix, a
// few entries) goes in one transaction.
func (s *logStore) DeleteRange(min, max uint64) error {
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

const deleteChunk = 4096

// IsMonotonic passes raft-wal's through (raft.MonotonicLogStore): raft
// then drops the whole log when it installs a snapshot past it (a
// restore, a follower's catch-up), as a log without gaps needs.
func (s *logStore) IsMonotonic() bool {
	m, ok := s.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}
