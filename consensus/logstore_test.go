package consensus

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

func TestChunkedDeletesLeaveTheLogAsOneDeleteWould(t *testing.T) {
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(t.TempDir(), "raft.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const n = 3*deleteChunk + 100
	logs := make([]*raft.Log, n)
	for i := range logs {
		logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: []byte{byte(i)}}
	}
	if err := store.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	s := chunkedDeletes{store}
	has := func(i uint64) bool {
		var l raft.Log
		err := s.GetLog(i, &l)
		if err != nil && !errors.Is(err, raft.ErrLogNotFound) {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		return err == nil
	}
	bounds := func(wantFirst, wantLast uint64) {
		t.Helper()
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		if first != wantFirst || last != wantLast || has(wantFirst-1) || !has(wantFirst) || !has(wantLast) || has(wantLast+1) {
			t.Fatalf("log holds %d..%d, want %d..%d", first, last, wantFirst, wantLast)
		}
	}

	// Compaction: a prefix over several chunks, ending inside one.
	if err := s.DeleteRange(1, 2*deleteChunk+10); err != nil {
		t.Fatal(err)
	}
	bounds(2*deleteChunk+11, n)
	// A conflicting suffix, in one go.
	if err := s.DeleteRange(n-50, n); err != nil {
		t.Fatal(err)
	}
	bounds(2*deleteChunk+11, n-51)
	// Everything left, as when a snapshot is installed.
	if err := s.DeleteRange(2*deleteChunk+11, n-51); err != nil {
		t.Fatal(err)
	}
	if first, _ := s.FirstIndex(); first != 0 {
		t.Fatalf("after deleting it all, the log starts at %d", first)
	}
}
