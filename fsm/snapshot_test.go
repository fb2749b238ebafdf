package fsm_test

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"testing"

	"github.com/canopy-coord/canopy/fsm"
)

// richTree holds every kind of node, sessions with and without ephemerals,
// and a reapable container and TTL node.
func richTree(t testing.TB) *harness {
	h := newHarness(t)
	h.ok(openSession(0x11, 3000))
	h.ok(openSession(0x22, 0))
	h.ok(openSession(0x7fffffffffffffff, 60000))
	h.ok(create("/app/config", "k=v\x00\xff", fsm.FlagParents))
	h.ok(set("/app/config", "k=w", 0))
	h.ok(createEphemeral("/app/member-", "m1", 0x11, fsm.FlagSequential))
	h.ok(createEphemeral("/app/member-", "m2", 0x22, fsm.FlagSequential))
	h.ok(create("/app/box", "", fsm.FlagContainer))
	h.ok(create("/app/box/item", "i"))
	h.ok(create("/app/empty-box", "", fsm.FlagContainer))
	h.ok(create("/app/box2", "", fsm.FlagContainer))
	h.ok(create("/app/box2/x", ""))
	h.ok(del("/app/box2/x", fsm.AnyVersion))
	h.ok(withTime(createTTL("/ttl", "t", 500), t0))
	h.ok(createTTL("/ttl-", "", fsm.MaxTTL, fsm.FlagSequential))
	h.ok(create("/日本/ü", "unicode", fsm.FlagParents))
	h.ok(set("/", "root", fsm.AnyVersion))
	h.ok(del("/app/member-0000000002", fsm.AnyVersion))
	h.apply(create("/app", "")) // a failure advances applied too
	return h
}

func TestSnapshotRestoreReproducesTreeExactly(t *testing.T) {
	h := richTree(t)
	want := captureState(t, h.tree)
	checkInvariants(t, want)
	snap := h.tree.Snapshot()
	if snap.Applied() != h.zxid {
		t.Errorf("snapshot Applied = %d, want %d", snap.Applied(), h.zxid)
	}
	var buf bytes.Buffer
	n, err := snap.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, buf.Len())
	}
	written := append([]byte(nil), buf.Bytes()...)
	restored := fsm.NewTree()
	restored.Apply(1, &fsm.Command{Op: fsm.OpCreate, Path: "/stale", Version: fsm.AnyVersion})
	restored.Apply(2, &fsm.Command{Op: fsm.OpCreateSession, Session: 0x99})
	if err := restored.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	got := captureState(t, restored)
	if d := diffStates(want, got); d != "" {
		t.Errorf("restored tree differs: %s", d)
	}
	if restored.Applied() != h.zxid {
		t.Errorf("restored Applied = %d, want %d", restored.Applied(), h.zxid)
	}
	// A snapshot of the restored tree is byte for byte the same.
	var again bytes.Buffer
	if _, err := restored.Snapshot().WriteTo(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), written) {
		t.Errorf("snapshot of the restored tree differs from the original snapshot")
	}
	// The restored sessions still own their ephemerals: closing one deletes them.
	res, ev := restored.Apply(h.zxid+1, &fsm.Command{Op: fsm.OpCloseSession, Session: 0x11})
	if res.Err != nil || len(ev) != 2 || ev[0].Path != "/app/member-0000000001" {
		t.Errorf("close after restore: %+v\n%s", res, formatEvents(ev))
	}
}

func TestSnapshotIsPointInTimeWhileApplyContinues(t *testing.T) {
	h := richTree(t)
	want := captureState(t, h.tree)
	snap := h.tree.Snapshot()
	// Change everything the snapshot holds before writing it.
	h.ok(set("/app/config", "changed", fsm.AnyVersion))
	h.ok(delAll("/app"))
	h.ok(create("/new", "n"))
	h.ok(closeSession(0x22))
	h.ok(openSession(0x33, 0))
	var buf bytes.Buffer
	if _, err := snap.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	restored := fsm.NewTree()
	if err := restored.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if d := diffStates(want, captureState(t, restored)); d != "" {
		t.Errorf("snapshot saw later changes: %s", d)
	}
}

func TestRestoreRefusesBadSnapshotsAndKeepsTree(t *testing.T) {
	var buf bytes.Buffer
	if _, err := richTree(t).tree.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flipped := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x01
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"wrong magic", append([]byte("CANOPY-SNAP-9\n"), good[14:]...)},
		{"not a snapshot", []byte("hello, world, this is not a snapshot at all")},
		{"magic only", good[:14]},
		{"truncated in the middle", good[:len(good)/2]},
		{"missing checksum", good[:len(good)-4]},
		{"short checksum", good[:len(good)-1]},
		{"flipped byte in a node", flipped(len(good) / 2)},
		{"flipped byte in the header", flipped(15)},
		{"flipped checksum", flipped(len(good) - 1)},
		{"no root node", snapshotBytes(7, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.ok(create("/mine", "keep"))
			h.ok(openSession(0x5, 0))
			before := captureState(t, h.tree)
			err := h.tree.Restore(bytes.NewReader(tc.data))
			if !errors.Is(err, fsm.ErrBadSnapshot) {
				t.Errorf("Restore = %v, want ErrBadSnapshot", err)
			}
			if d := diffStates(before, captureState(t, h.tree)); d != "" {
				t.Errorf("a failed restore changed the tree: %s", d)
			}
		})
	}
}

// snapshotBytes hand-builds a snapshot with the given applied index and
// pre-encoded node records, and a correct checksum.
func snapshotBytes(applied int64, nodes [][]byte) []byte {
	b := []byte("CANOPY-SNAP-2\n")
	b = appendVarint(b, applied)
	b = append(b, 0) // no members
	b = append(b, 0) // no sessions
	b = append(b, byte(len(nodes)))
	for _, n := range nodes {
		b = append(b, n...)
	}
	sum := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
	return append(b, byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum))
}

func TestHandBuiltSnapshotMatchesFormat(t *testing.T) {
	// The root alone, all zero: a format check for snapshotBytes, so that
	// the "no root node" case above fails for the reason it names.
	root := []byte{1, '/', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	tree := fsm.NewTree()
	if err := tree.Restore(bytes.NewReader(snapshotBytes(3, [][]byte{root}))); err != nil {
		t.Fatalf("restore of a root-only snapshot: %v", err)
	}
	if c := tree.Counts(); c.Nodes != 1 || c.Applied != 3 {
		t.Errorf("counts = %+v", c)
	}
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, io.ErrShortWrite
	}
	w.after--
	return len(p), nil
}

func TestSnapshotWriteReportsWriterErrors(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 2000; i++ {
		h.ok(create("/n"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)), string(make([]byte, 100))))
	}
	snap := h.tree.Snapshot()
	counter := &failingWriter{after: 1 << 30}
	if _, err := snap.WriteTo(counter); err != nil {
		t.Fatal(err)
	}
	writes := 1<<30 - counter.after
	if writes < 3 {
		t.Fatalf("a %d-node snapshot took only %d writes", 2000, writes)
	}
	for after := 0; after < writes; after++ {
		if _, err := snap.WriteTo(&failingWriter{after: after}); !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("writer failing after %d writes: WriteTo = %v", after, err)
		}
	}
	// The snapshot can still be written in full afterwards.
	restored := roundTrip(t, h.tree)
	if d := diffStates(captureState(t, h.tree), captureState(t, restored)); d != "" {
		t.Error(d)
	}
}
