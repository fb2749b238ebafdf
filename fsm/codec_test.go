package fsm_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/canopy-coord/canopy/fsm"
)

// sampleCommands covers every op and every field, at their extremes.
func sampleCommands() []fsm.Command {
	return []fsm.Command{
		{},
		{Op: fsm.OpCreate, Time: t0, Session: 0x1f3a, Identity: []string{"digest:alice:xyz", "ip:127.0.0.1"},
			Path: "/a/b", Data: []byte("hello"), Version: fsm.AnyVersion, Flags: fsm.FlagEphemeral | fsm.FlagSequential},
		{Op: fsm.OpCreate, Path: "/ttl", TTL: fsm.MaxTTL, Version: fsm.AnyVersion, Flags: fsm.FlagParents},
		{Op: fsm.OpSetData, Path: "/a", Data: bytes.Repeat([]byte{0, 0xff}, 300), Version: math.MaxInt32},
		{Op: fsm.OpDelete, Path: "/a", Version: math.MinInt32, Flags: fsm.FlagRecursive},
		{Op: fsm.OpCheck, Path: "/ü/日本", Version: -2},
		{Op: fsm.OpCreateSession, Session: 1<<63 - 1, Timeout: 10000, Time: -1},
		{Op: fsm.OpCloseSession, Session: math.MaxUint64},
		{Op: fsm.OpExpireSession, Session: 1},
		{Op: fsm.OpReap, Path: "/c", Time: math.MaxInt64},
		{Op: fsm.OpBarrier, Time: math.MinInt64},
		{Op: fsm.OpMulti, Time: 5, Identity: []string{""}, Ops: []fsm.Command{
			{Op: fsm.OpCreate, Path: "/m", Data: []byte("x"), Version: fsm.AnyVersion},
			{Op: fsm.OpCheck, Path: "/m", Version: 0},
			{Op: fsm.OpDelete, Path: "/m", Version: 3, TTL: -7, Timeout: -9},
		}},
		{Op: 0xff, Flags: 0xff, Path: "not a path \x00\xff"},
	}
}

func TestEncodeDecodeRoundTripsEveryField(t *testing.T) {
	for i, c := range sampleCommands() {
		enc := c.Encode(nil)
		got, err := fsm.Decode(enc)
		if err != nil {
			t.Fatalf("command %d (%s): decode: %v", i, c.Op, err)
		}
		if !reflect.DeepEqual(*got, c) {
			t.Errorf("command %d round trip:\ngot  %+v\nwant %+v", i, *got, c)
		}
		if again := got.Encode(nil); !bytes.Equal(again, enc) {
			t.Errorf("command %d: re-encoding differs", i)
		}
	}
}

func TestEncodeAppendsToBuffer(t *testing.T) {
	c := fsm.Command{Op: fsm.OpCreate, Path: "/a", Version: fsm.AnyVersion}
	buf := c.Encode([]byte("prefix"))
	if !bytes.HasPrefix(buf, []byte("prefix")) {
		t.Fatalf("Encode dropped the buffer's content")
	}
	if got, err := fsm.Decode(buf[len("prefix"):]); err != nil || got.Path != "/a" {
		t.Errorf("decode of appended encoding: %+v, %v", got, err)
	}
}

func TestDecodeTreatsEmptyDataAsNil(t *testing.T) {
	// Encode cannot tell nil from empty; Decode yields nil for both, which
	// Apply treats alike.
	c := fsm.Command{Op: fsm.OpSetData, Path: "/a", Data: []byte{}, Identity: []string{}, Ops: []fsm.Command{}}
	got, err := fsm.Decode(c.Encode(nil))
	if err != nil || got.Data != nil || got.Identity != nil || got.Ops != nil {
		t.Errorf("decode = %+v, %v; want nil Data, Identity and Ops", got, err)
	}
}

func TestDecodeRejectsCorruptInput(t *testing.T) {
	valid := sampleCommands()[11].Encode(nil) // the multi
	nested := fsm.Command{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpCheck}}}}}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"unknown codec version", append([]byte{2}, valid[1:]...)},
		{"version byte only", []byte{1}},
		{"trailing byte", append(append([]byte(nil), valid...), 0)},
		{"multi nested in multi", nested.Encode(nil)},
		{"version above int32", encodeWithVersion(math.MaxInt32 + 1)},
		{"version below int32", encodeWithVersion(math.MinInt32 - 1)},
		{"huge path length", []byte{1, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"huge identity count", []byte{1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"overlong varint", append([]byte{1, 1}, bytes.Repeat([]byte{0x80}, 11)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := fsm.Decode(tc.data)
			if !errors.Is(err, fsm.ErrCorrupt) || c != nil {
				t.Errorf("Decode = %+v, %v; want ErrCorrupt", c, err)
			}
		})
	}
	// The hand encoding is right: an in-range version decodes.
	if c, err := fsm.Decode(encodeWithVersion(math.MaxInt32)); err != nil || c.Version != math.MaxInt32 || c.Op != fsm.OpCheck {
		t.Fatalf("hand-encoded check: %+v, %v", c, err)
	}
	for n := 0; n < len(valid); n++ {
		if c, err := fsm.Decode(valid[:n]); !errors.Is(err, fsm.ErrCorrupt) {
			t.Errorf("Decode of the first %d of %d bytes = %+v, %v; want ErrCorrupt", n, len(valid), c, err)
		}
	}
}

// encodeWithVersion hand-encodes a check whose version does not fit an int32.
func encodeWithVersion(v int64) []byte {
	b := []byte{1, byte(fsm.OpCheck), 0, 0, 0, 0, 0}
	b = appendVarint(b, v)
	return append(b, 0, 0, 0, 0, 0, 0) // flags, ttl, timeout, ops, raft and HTTP addresses
}

func appendVarint(b []byte, v int64) []byte {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

func TestDecodeAcceptsOnlyCanonicalEncodings(t *testing.T) {
	// BUG: Decode accepts varints with redundant continuation bytes, so
	// different byte strings decode to the same command and re-encoding
	// does not give back the entry's bytes. Encode never writes them; a
	// strict decoder would make the codec a bijection (FuzzDecode's
	// property).
	c := fsm.Command{Op: fsm.OpCheck, Path: "/a", Version: fsm.AnyVersion}
	canonical := c.Encode(nil)
	// canonical[2] is Time = 0 as a one-byte varint; spell it 0x80 0x00.
	padded := append(append(append([]byte(nil), canonical[:2]...), 0x80, 0x00), canonical[3:]...)
	got, err := fsm.Decode(padded)
	if err == nil {
		t.Errorf("Decode(%x) = %+v, nil; want ErrCorrupt for a non-minimal varint (canonical %x)", padded, *got, canonical)
	}
}

func TestOpNames(t *testing.T) {
	for op, want := range map[fsm.Op]string{
		fsm.OpCreate: "create", fsm.OpSetData: "set", fsm.OpDelete: "delete", fsm.OpCheck: "check",
		fsm.OpMulti: "multi", fsm.OpCreateSession: "createSession", fsm.OpCloseSession: "closeSession",
		fsm.OpExpireSession: "expireSession", fsm.OpReap: "reap", fsm.OpBarrier: "barrier",
		fsm.OpSetMember: "setMember", fsm.OpRemoveMember: "removeMember",
		0: "unknown", 13: "unknown", 255: "unknown",
	} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", op, got, want)
		}
	}
}
