package consensus

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// openNodeConfig is openNode, also returning its config, to open the data
// directory again with Open itself.
func openNodeConfig(t *testing.T, dir string, tweak ...func(*Config)) (*Node, Config) {
	t.Helper()
	var cfg Config
	n := openNode(t, dir, append(tweak, func(c *Config) { cfg = *c })...)
	return n, cfg
}

// appendEntries writes commands after the last entry of a closed node's
// log, in its term, with raft's own log store.
func appendEntries(t *testing.T, dir string, data ...[]byte) (first uint64) {
	t.Helper()
	store := openStore(t, dir)
	defer store.Close()
	last, err := store.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	var prev raft.Log
	if err := store.GetLog(last, &prev); err != nil {
		t.Fatal(err)
	}
	logs := make([]*raft.Log, len(data))
	for i, d := range data {
		logs[i] = &raft.Log{Index: last + 1 + uint64(i), Term: prev.Term, Type: raft.LogCommand, Data: d, AppendedAt: time.Now()}
	}
	if err := store.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	return last + 1
}

// openBolt opens a data directory's raft.db as Open does, failing rather
// than waiting if something still holds it.
// openStore opens a closed node's raft log store, whichever it is.
func openStore(t *testing.T, dir string) raftStore {
	t.Helper()
	store, _, err := openLogStore(dir, "", zerolog.Nop(), hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("open the raft log: %v", err)
	}
	return store
}

// rewrite replaces the data of entry index in a closed node's log: the
// tail from it is cut and written again (raft-wal appends only).
func rewrite(t *testing.T, dir string, index uint64, data []byte) {
	t.Helper()
	store := openStore(t, dir)
	defer store.Close()
	last, err := store.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	var tail []*raft.Log
	for i := index; i <= last; i++ {
		l := new(raft.Log)
		if err := store.GetLog(i, l); err != nil {
			t.Fatal(err)
		}
		tail = append(tail, l)
	}
	tail[0].Data = data
	if err := store.DeleteRange(index, last); err != nil {
		t.Fatal(err)
	}
	if err := store.StoreLogs(tail); err != nil {
		t.Fatal(err)
	}
}

// newerCreate is a create in a payload version after the latest: what a
// later Canopy would write.
func newerCreate(path string) []byte {
	enc := (&fsm.Command{Op: fsm.OpCreate, Path: path}).Encode(nil)
	enc[1]++
	return enc
}

func reopen(cfg Config) (*Node, error) {
	cfg.Registerer = prometheus.NewRegistry()
	return Open(cfg)
}

func TestOpenRefusesALogWithAnEntryOfANewerVersion(t *testing.T) {
	dir := t.TempDir()
	n, cfg := openNodeConfig(t, dir)
	propose(t, n, create("/a", "x"))
	n.Close()
	index := appendEntries(t, dir, create("/b", "").Encode(nil), newerCreate("/c"), create("/d", "").Encode(nil))
	bad := index + 1

	n2, err := reopen(cfg)
	if err == nil {
		n2.Close()
		t.Fatal("a node whose log holds an entry of a newer version opened")
	}
	var ue *UnreadableEntryError
	if !errors.Is(err, fsm.ErrUnknownVersion) || errors.Is(err, fsm.ErrCorrupt) || !errors.As(err, &ue) || ue.Index != bad {
		t.Fatalf("Open = %v; want an UnreadableEntryError at %d wrapping ErrUnknownVersion", err, bad)
	}
	for _, says := range []string{fmt.Sprintf("raft log entry %d ", bad), fmt.Sprintf("create payload version %d", fsm.LatestVersion(fsm.OpCreate)+1),
		"written by a newer Canopy; run that version, or restore from a backup"} {
		if !strings.Contains(err.Error(), says) {
			t.Errorf("Open's error %q does not say %q", err, says)
		}
	}
	// The stores were closed: the file is free, and the entry still there.
	store := openStore(t, dir)
	var l raft.Log
	if err := store.GetLog(bad, &l); err != nil || !bytes.Equal(l.Data, newerCreate("/c")) {
		t.Errorf("entry %d after the refused open: %v", bad, err)
	}
	store.Close()
}

func TestOpenReadsOnlyTheEntriesAfterTheLatestSnapshot(t *testing.T) {
	dir := t.TempDir()
	n, cfg := openNodeConfig(t, dir)
	propose(t, n, create("/old", ""))
	oldIndex := uint64(n.Applied())
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	propose(t, n, create("/new", ""))
	newIndex := uint64(n.Applied())
	n.Close()

	// An entry the snapshot covers is never replayed: raft keeps it only
	// for slow followers, so an unreadable one does not stop the node.
	overwrite := func(index uint64, data []byte) { rewrite(t, dir, index, data) }
	overwrite(oldIndex, newerCreate("/old"))
	n2, err := reopen(cfg)
	if err != nil {
		t.Fatalf("an unreadable entry before the snapshot stopped the node: %v", err)
	}
	testkit.WaitFor(t, 10*time.Second, "node ready", n2.Ready)
	if _, _, err := n2.Tree().Stat("/new"); err != nil {
		t.Fatalf("/new after restart: %v", err)
	}
	n2.Close()

	overwrite(newIndex, []byte{0x81, 1, 0xff}) // a truncated create: damage
	_, err = reopen(cfg)
	var ue *UnreadableEntryError
	if !errors.As(err, &ue) || ue.Index != newIndex || !errors.Is(err, fsm.ErrCorrupt) || !strings.Contains(err.Error(), "restore from a backup") {
		t.Fatalf("Open = %v; want the damaged entry %d named", err, newIndex)
	}
}

func TestOpenReplaysLegacyEntriesOfBothShapes(t *testing.T) {
	dir := t.TempDir()
	openNode(t, dir).Close()

	const session api.ID = 0x1f3a5c7e9b2d4f60
	const t0 = 1_700_000_000_000
	// The golden files are the legacy layout's truth; check the hand
	// encoder against two of them, then append those too.
	sessionEntry := readGolden(t, "legacy-without-members.createSession")
	if hand := legacyEncode(fsm.Command{Op: fsm.OpCreateSession, Time: t0 + 5, Session: session, Timeout: 10000,
		Identity: []string{"digest:alice:xyz"}}, false); !bytes.Equal(hand, sessionEntry) {
		t.Fatalf("hand-encoded legacy createSession %x, golden %x", hand, sessionEntry)
	}
	reapEntry := readGolden(t, "legacy-with-members.reap")
	if hand := legacyEncode(fsm.Command{Op: fsm.OpReap, Time: t0 + 8, Path: "/c"}, true); !bytes.Equal(hand, reapEntry) {
		t.Fatalf("hand-encoded legacy reap %x, golden %x", hand, reapEntry)
	}
	appendEntries(t, dir,
		// Written before the member fields...
		sessionEntry,
		legacyEncode(fsm.Command{Op: fsm.OpCreate, Time: t0, Path: "/app", Data: []byte("v1"), Version: fsm.AnyVersion}, false),
		// The session's own caller (its opener's identity, which the
		// session now belongs to), as the legacy layout can carry it.
		legacyEncode(fsm.Command{Op: fsm.OpCreate, Time: t0 + 1, Path: "/app/e", Session: session,
			Identity: []string{"digest:alice:xyz"}, Flags: fsm.FlagEphemeral, Version: fsm.AnyVersion}, false),
		legacyEncode(fsm.Command{Op: fsm.OpMulti, Time: t0 + 2, Ops: []fsm.Command{
			{Op: fsm.OpCreate, Session: session, Path: "/app/m", Data: []byte("x"), Version: fsm.AnyVersion},
			{Op: fsm.OpSetData, Session: session, Path: "/app", Data: []byte("v2"), Version: 0},
		}}, false),
		// ...and with them.
		legacyEncode(fsm.Command{Op: fsm.OpCreate, Time: t0 + 3, Path: "/app/s-", Flags: fsm.FlagSequential, Version: fsm.AnyVersion}, true),
		legacyEncode(fsm.Command{Op: fsm.OpDelete, Time: t0 + 4, Path: "/app/m", Version: fsm.AnyVersion}, true),
		legacyEncode(fsm.Command{Op: fsm.OpSetData, Time: t0 + 5, Path: "/app", Data: []byte("v3"), Version: 1}, true),
		reapEntry,
	)

	n2 := openNode(t, dir, func(c *Config) { c.Registerer = prometheus.NewRegistry() })
	data, stat, _, err := n2.Tree().Get("/app")
	if err != nil || data != "v3" || stat.Version != 2 || stat.Mtime != t0+5 || stat.Ctime != t0 {
		t.Fatalf("/app = %q %+v, %v; want v3 at version 2, created at t0, changed at t0+5", data, stat, err)
	}
	if st, _, err := n2.Tree().Stat("/app/e"); err != nil || st.EphemeralOwner != session {
		t.Errorf("/app/e = %+v, %v; want an ephemeral of session %s", st, err, session)
	}
	if _, _, err := n2.Tree().Stat("/app/s-0000000002"); err != nil {
		t.Errorf("/app/s-0000000002: %v", err)
	}
	if _, _, err := n2.Tree().Stat("/app/m"); api.CodeOf(err) != api.CodeNoNode {
		t.Errorf("/app/m: %v, want NoNode", err)
	}
	if info, _, err := n2.Tree().Session(session); err != nil || info.TimeoutMs != 10000 {
		t.Errorf("session %s = %+v, %v", session, info, err)
	}
}

func TestApplyStopsAtAnEntryItCannotReadWithoutPanicking(t *testing.T) {
	var halts []error
	f := &raftFSM{tree: fsm.NewTree(), applied: newAppliedIndex(), metrics: newMetrics(prometheus.NewRegistry()),
		halt: func(err error) { halts = append(halts, err) }}
	entry := func(index uint64, data []byte) *raft.Log {
		return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
	}
	resps := f.ApplyBatch([]*raft.Log{
		entry(1, create("/a", "").Encode(nil)),
		{Index: 2, Term: 1, Type: raft.LogConfiguration},
		entry(3, newerCreate("/b")),
		entry(4, create("/c", "").Encode(nil)),
	})
	if r, ok := resps[0].(*applyResponse); !ok || r.result.Err != nil {
		t.Fatalf("entry 1: %+v", resps[0])
	}
	for i := 2; i < 4; i++ {
		if r, ok := resps[i].(*applyResponse); !ok || api.CodeOf(r.result.Err) != api.CodeUnavailable {
			t.Errorf("entry %d, not applied: response %+v, want Unavailable", i+1, resps[i])
		}
	}
	var ue *UnreadableEntryError
	if len(halts) != 1 || !errors.As(halts[0], &ue) || ue.Index != 3 || !errors.Is(halts[0], fsm.ErrUnknownVersion) {
		t.Fatalf("halts = %v; want one, at entry 3, of an unknown version", halts)
	}
	if got := f.applied.get(); got != 2 {
		t.Errorf("applied index %d, want 2: the entries before the unreadable one", got)
	}
	// Nothing more is applied, and no snapshot is taken: the log from the
	// unreadable entry on must stay for the version that can read it.
	resps = f.ApplyBatch([]*raft.Log{entry(5, create("/d", "").Encode(nil))})
	if r, ok := resps[0].(*applyResponse); !ok || api.CodeOf(r.result.Err) != api.CodeUnavailable {
		t.Errorf("after the halt: %+v", resps[0])
	}
	for _, p := range []string{"/b", "/c", "/d"} {
		if _, _, err := f.tree.Stat(p); api.CodeOf(err) != api.CodeNoNode {
			t.Errorf("%s was applied after the halt: %v", p, err)
		}
	}
	if _, _, err := f.tree.Stat("/a"); err != nil {
		t.Errorf("/a, before the halt: %v", err)
	}
	if _, err := f.Snapshot(); err == nil {
		t.Error("a halted FSM took a snapshot")
	}
	if len(halts) != 1 {
		t.Errorf("%d halts, want 1", len(halts))
	}
}

func TestNodeStopsAtAnEntryFromANewerLeader(t *testing.T) {
	dir := t.TempDir()
	logs := &testkit.SyncBuffer{}
	n, cfg := openNodeConfig(t, dir, func(c *Config) { c.Logger, c.LogOutput = zerolog.New(logs), discard{} })
	propose(t, n, create("/a", ""))
	select {
	case <-n.Halted():
		t.Fatal("halted before any unreadable entry")
	default:
	}
	// As if a newer leader had replicated it: raft takes the bytes as they are.
	f := n.raft.Apply(newerCreate("/b"), 5*time.Second)
	if err := f.Error(); err != nil {
		t.Fatalf("raft apply: %v", err)
	}
	bad := f.Index()
	select {
	case <-n.Halted():
	case <-time.After(10 * time.Second):
		t.Fatal("the node did not halt")
	}
	var ue *UnreadableEntryError
	if err := n.HaltErr(); !errors.As(err, &ue) || ue.Index != bad {
		t.Fatalf("HaltErr = %v; want the entry %d", err, bad)
	}
	if r, ok := f.Response().(*applyResponse); !ok || api.CodeOf(r.result.Err) != api.CodeUnavailable {
		t.Errorf("the entry's response: %+v", f.Response())
	}
	testkit.WaitFor(t, 10*time.Second, "raft to shut down", func() bool { return n.raft.State() == raft.Shutdown })
	if err := n.Close(); err != nil { // waits for the close the halt started
		t.Errorf("close: %v", err)
	}
	if _, _, err := n.Tree().Stat("/b"); api.CodeOf(err) != api.CodeNoNode {
		t.Errorf("/b was applied: %v", err)
	}
	if _, _, err := n.Propose(context.Background(), create("/c", "")); err == nil {
		t.Error("a halted node took a proposal")
	}
	if line := logs.String(); !strings.Contains(line, `"level":"error"`) || !strings.Contains(line, fmt.Sprintf(`"index":%d`, bad)) {
		t.Errorf("no error logged with the index: %s", line)
	}
	// And it does not start again on that log.
	if _, err := reopen(cfg); !errors.As(err, &ue) || ue.Index != bad {
		t.Fatalf("reopen = %v; want the entry %d named", err, bad)
	}
}

func TestCheckLogNamesTheFirstUnreadableEntryAfterTheSnapshot(t *testing.T) {
	logs := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	const last = 3 * checkLogParts * checkLogMinPart
	for i := uint64(1); i <= last; i++ {
		l := &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: create(fmt.Sprintf("/n%d", i), "").Encode(nil)}
		switch i {
		case 100:
			l.Type, l.Data = raft.LogNoop, []byte{0xff} // not a command: not read
		case 5000:
			l.Data = []byte{0x81, 1} // a truncated create
		case last - 10:
			l.Data = newerCreate("/x")
		}
		if err := logs.StoreLog(l); err != nil {
			t.Fatal(err)
		}
	}
	var ue *UnreadableEntryError
	if err := checkLog(logs, snaps); !errors.As(err, &ue) || ue.Index != 5000 || !errors.Is(err, fsm.ErrCorrupt) {
		t.Fatalf("checkLog = %v; want the entry 5000, corrupt", err)
	}
	sink, err := snaps.Create(raft.SnapshotVersionMax, 5000, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if err := checkLog(logs, snaps); !errors.As(err, &ue) || ue.Index != last-10 || !errors.Is(err, fsm.ErrUnknownVersion) {
		t.Fatalf("checkLog after a snapshot at 5000 = %v; want the entry %d, of a newer version", err, last-10)
	}
	if err := logs.DeleteRange(last-10, last); err != nil {
		t.Fatal(err)
	}
	if err := checkLog(logs, snaps); err != nil {
		t.Fatalf("checkLog of a readable log: %v", err)
	}
	if err := checkLog(raft.NewInmemStore(), raft.NewInmemSnapshotStore()); err != nil {
		t.Fatalf("checkLog of an empty log: %v", err)
	}
}

// BenchmarkCheckLog times Open's scan of a log of 20,000 creates of 100
// bytes after the latest snapshot (raft's TrailingLogs keeps 10,240, and a
// snapshot comes every 16,384 entries).
//
//	go test ./consensus -run '^$' -bench CheckLog -benchtime 10x
func BenchmarkCheckLog(b *testing.B) {
	dir := b.TempDir()
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), BoltOptions: boltOptions()})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	snaps, err := raft.NewFileSnapshotStore(dir, 2, os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	const entries = 20000
	for i := 0; i < entries; i += 500 {
		logs := make([]*raft.Log, 500)
		for j := range logs {
			cmd := fsm.Command{Op: fsm.OpCreate, Time: time.Now().UnixMilli(), Path: fmt.Sprintf("/app/n%08d", i+j),
				Data: bytes.Repeat([]byte("x"), 100)}
			logs[j] = &raft.Log{Index: uint64(i + j + 1), Term: 1, Type: raft.LogCommand, Data: cmd.Encode(nil)}
		}
		if err := store.StoreLogs(logs); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if err := checkLog(store, snaps); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/scan")
}

// readGolden reads one of fsm's golden entries.
func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "fsm", "testdata", "golden", name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	var h strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "#") {
			h.WriteString(strings.Join(strings.Fields(line), ""))
		}
	}
	data, err := hex.DecodeString(h.String())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// legacyEncode writes c in the legacy layout (codec version 1), by hand:
// a byte 1, then every field whatever the op, nested ops alike; with
// members, each command ends with the member addresses.
func legacyEncode(c fsm.Command, members bool) []byte {
	return appendLegacy([]byte{1}, c, members)
}

func appendLegacy(b []byte, c fsm.Command, members bool) []byte {
	str := func(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	b = append(b, byte(c.Op))
	b = binary.AppendVarint(b, c.Time)
	b = binary.AppendUvarint(b, uint64(c.Session))
	b = binary.AppendUvarint(b, uint64(len(c.Identity)))
	for _, id := range c.Identity {
		b = str(b, id)
	}
	b = str(b, c.Path)
	b = str(b, string(c.Data))
	b = binary.AppendVarint(b, int64(c.Version))
	b = append(b, byte(c.Flags))
	b = binary.AppendVarint(b, c.TTL)
	b = binary.AppendVarint(b, c.Timeout)
	b = binary.AppendUvarint(b, uint64(len(c.Ops)))
	for _, op := range c.Ops {
		b = appendLegacy(b, op, members)
	}
	if members {
		b = str(b, c.RaftAddr)
		b = str(b, c.HTTPAddr)
	}
	return b
}
