package consensus

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/rs/zerolog"
)

// The raft log store (DESIGN §7, issue 13): hashicorp/raft-wal (one fsync
// per append where bolt takes two) or raft-boltdb. A directory keeps the
// store it holds; switching an existing node is never done silently:
// remove the node, wipe its directory, and join it again.
//
// A new directory gets raft-boltdb for now, and raft-wal only when asked:
// raft-wal 0.4.0 (the only version the module proxy serves here) seals the
// tail segment on a tail truncation without writing its index block, so
// after a restart every entry of that segment reads "sealed segment has no
// index block". Raft truncates a follower's tail when a new leader's log
// differs from it, so a WAL node could fail to start after a failover and a
// restart. DESIGN §7 asks for raft-wal by default; that waits for a fixed
// raft-wal.
const (
	LogStoreWAL    = "wal"
	LogStoreBoltDB = "boltdb"
)

const (
	boltFile = "raft.db"
	walDir   = "wal"
)

// raftStore is the log and the stable store (the term, the vote) of one
// node: both kinds give both.
type raftStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

// chooseLogStore decides which store a data directory uses: the one it
// holds, or for a new directory the one asked for (wal by default). A
// directory holding one store while the other is asked for is an error.
func chooseLogStore(dataDir, asked string) (string, error) {
	if asked != "" && asked != LogStoreWAL && asked != LogStoreBoltDB {
		return "", fmt.Errorf("raft log store %q: want %s or %s", asked, LogStoreWAL, LogStoreBoltDB)
	}
	hasBolt := exists(filepath.Join(dataDir, boltFile))
	hasWAL := exists(filepath.Join(dataDir, walDir))
	switch {
	case hasBolt && hasWAL:
		return "", fmt.Errorf("%s holds both a bolt %s and a %s directory: restore it from a backup into an empty directory", dataDir, boltFile, walDir)
	case hasBolt && asked == LogStoreWAL, hasWAL && asked == LogStoreBoltDB:
		have := LogStoreBoltDB
		if hasWAL {
			have = LogStoreWAL
		}
		return "", fmt.Errorf("%s holds a %s raft log, and --raft-log-store asks for %s: a node's log store is not switched in place; remove the node from the cluster, empty its data directory and join it again", dataDir, have, asked)
	case hasBolt:
		return LogStoreBoltDB, nil
	case hasWAL:
		return LogStoreWAL, nil
	case asked == "":
		return LogStoreBoltDB, nil
	}
	return asked, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}

// openLogStore opens the data directory's log store, as chooseLogStore
// decides.
func openLogStore(dataDir, asked string, log zerolog.Logger, hlog hclog.Logger) (raftStore, string, error) {
	kind, err := chooseLogStore(dataDir, asked)
	if err != nil {
		return nil, "", err
	}
	switch kind {
	case LogStoreBoltDB:
		if asked == "" && exists(filepath.Join(dataDir, boltFile)) {
			log.Info().Str("file", filepath.Join(dataDir, boltFile)).
				Msg("this data directory holds a raft-boltdb log: keeping it")
		}
		store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dataDir, boltFile), BoltOptions: boltOptions()})
		if err != nil {
			return nil, "", fmt.Errorf("open raft log (boltdb): %w", err)
		}
		return store, kind, nil
	}
	log.Warn().Msg("raft-wal 0.4.0 loses the readability of a log segment after a tail truncation and a restart (see consensus/stores.go): use it for trials only")
	dir := filepath.Join(dataDir, walDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("open raft log (wal): %w", err)
	}
	meta := &metadb.BoltMetaDB{}
	w, err := wal.Open(dir, wal.WithLogger(hlog), wal.WithMetaStore(meta))
	if err != nil {
		meta.Close()
		return nil, "", fmt.Errorf("open raft log (wal) in %s: %w", dir, err)
	}
	return &walStore{WAL: w, meta: meta}, kind, nil
}

// walStore closes the WAL's metadata file with it: raft-wal 0.4.0's Close
// leaves it open (and locked), so the directory could not be opened again
// in the same process.
type walStore struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
}

func (s *walStore) Close() error {
	return errors.Join(s.WAL.Close(), s.meta.Close())
}
