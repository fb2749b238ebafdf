package consensus

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
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
	s := newLogStore(store, newMetrics(nil), zerolog.Nop())
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

func TestLogWritesAreTimedAndSlowOnesLogged(t *testing.T) {
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(t.TempDir(), "raft.db"), BoltOptions: boltOptions()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var logged bytes.Buffer
	m := newMetrics(nil)
	s := newLogStore(store, m, zerolog.New(&logged))
	batch := []*raft.Log{{Index: 1, Term: 1, Type: raft.LogCommand}, {Index: 2, Term: 1, Type: raft.LogCommand}}
	if err := s.StoreLogs(batch); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLog(&raft.Log{Index: 3, Term: 1, Type: raft.LogCommand}); err != nil {
		t.Fatal(err)
	}
	var h dto.Metric
	if err := m.logStoreSeconds.Write(&h); err != nil {
		t.Fatal(err)
	}
	if n, sum := h.GetHistogram().GetSampleCount(), h.GetHistogram().GetSampleSum(); n != 2 || sum <= 0 {
		t.Errorf("canopy_raft_log_store_seconds: %d samples summing %vs, want 2 writes timed", n, sum)
	}
	if logged.Len() != 0 {
		t.Errorf("fast writes logged: %s", logged.String())
	}

	// A write over the threshold is a warning naming what was written.
	s.slow = time.Nanosecond
	if err := s.StoreLogs([]*raft.Log{{Index: 4, Term: 1, Type: raft.LogCommand}}); err != nil {
		t.Fatal(err)
	}
	var line struct {
		Level, Message string
		Entries        int    `json:"entries"`
		First          uint64 `json:"first_index"`
	}
	if err := json.Unmarshal(logged.Bytes(), &line); err != nil || line.Level != "warn" || line.Entries != 1 || line.First != 4 ||
		!strings.Contains(line.Message, "raft log was slow") {
		t.Errorf("slow write logged %q (%v)", logged.String(), err)
	}
}
