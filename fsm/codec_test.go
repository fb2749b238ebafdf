package fsm_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// kinds are the ops that have a payload of their own.
var kinds = []fsm.Op{
	fsm.OpCreate, fsm.OpSetData, fsm.OpDelete, fsm.OpCheck, fsm.OpMulti, fsm.OpCreateSession,
	fsm.OpCloseSession, fsm.OpExpireSession, fsm.OpReap, fsm.OpBarrier, fsm.OpSetMember, fsm.OpRemoveMember,
	fsm.OpSetACL,
}

// sampleCommands covers every kind with every field it carries, at their
// extremes.
func sampleCommands() []fsm.Command {
	return []fsm.Command{
		{Op: fsm.OpCreate, Time: t0, Session: 0x1f3a, Identity: []string{"digest:alice:xyz", "ip:127.0.0.1"},
			Path: "/a/b", Data: []byte("hello"), Flags: fsm.FlagEphemeral | fsm.FlagSequential},
		{Op: fsm.OpCreate, Path: "/ttl", TTL: fsm.MaxTTL, Flags: fsm.FlagParents},
		{Op: fsm.OpCreate, Path: "/neg", TTL: math.MinInt64, Time: math.MinInt64, Session: math.MaxUint64, Flags: 0xff},
		{Op: fsm.OpSetData, Path: "/a", Data: bytes.Repeat([]byte{0, 0xff}, 300), Version: math.MaxInt32, Time: -1},
		{Op: fsm.OpDelete, Path: "/a", Version: math.MinInt32, Flags: fsm.FlagRecursive, Identity: []string{""}},
		{Op: fsm.OpCheck, Path: "/ü/日本", Version: -2},
		{Op: fsm.OpCreateSession, Session: 1<<63 - 1, Timeout: 10000, Identity: []string{"x"}},
		{Op: fsm.OpCreateSession, Timeout: math.MinInt64},
		{Op: fsm.OpCloseSession, Session: math.MaxUint64, Identity: []string{"digest:alice:xyz"}},
		{Op: fsm.OpCreate, Path: "/acl", ACL: []api.ACL{{Scheme: "digest", ID: "alice:xyz", Perms: api.PermAll}, {Scheme: "ip", ID: "::1/128", Perms: 0}}},
		{Op: fsm.OpSetACL, Path: "/acl", Version: math.MinInt32, Identity: []string{"super:"}, ACL: []api.ACL{{Scheme: "world", ID: "anyone", Perms: api.PermRead}}},
		{Op: fsm.OpExpireSession, Session: 1},
		{Op: fsm.OpReap, Path: "/c", Time: math.MaxInt64},
		{Op: fsm.OpBarrier},
		{Op: fsm.OpMulti, Time: 5, Identity: []string{""}, Ops: []fsm.Command{
			{Op: fsm.OpCreate, Path: "/m", Data: []byte("x"), Session: 9, Flags: fsm.FlagEphemeral},
			{Op: fsm.OpCheck, Path: "/m", Version: 0},
			{Op: fsm.OpDelete, Path: "/m", Version: 3},
			{Op: fsm.OpSetData, Path: "/m", Version: fsm.AnyVersion},
			{Op: fsm.OpCreate, Path: "/p/q", Flags: fsm.FlagParents}, // refused by Apply, by a field it carries
			{Op: fsm.OpDelete, Path: "/p", Flags: fsm.FlagRecursive},
		}},
		{Op: fsm.OpMulti},
		{Op: fsm.OpSetMember, Path: "node1", RaftAddr: "127.0.0.1:8901", HTTPAddr: "[::1]:8900"},
		{Op: fsm.OpRemoveMember, Path: "not a path \x00\xff"},
	}
}

// carried is what Decode gives back for c: the fields of c's kind (the
// table in codec.go), empty slices as nil. A command the per-kind layout
// cannot carry keeps every field (the legacy layout carries them).
func carried(c fsm.Command) fsm.Command {
	if !perKind(c) {
		return nilEmpty(withoutACL(c)) // the legacy layout is older than ACLs
	}
	k := fsm.Command{Op: c.Op}
	switch c.Op {
	case fsm.OpCreate:
		k.Time, k.Session, k.Identity, k.Path, k.Data, k.Flags, k.TTL, k.ACL = c.Time, c.Session, c.Identity, c.Path, c.Data, c.Flags, c.TTL, c.ACL
	case fsm.OpSetData:
		k.Time, k.Identity, k.Path, k.Data, k.Version = c.Time, c.Identity, c.Path, c.Data, c.Version
	case fsm.OpDelete:
		k.Identity, k.Path, k.Version, k.Flags = c.Identity, c.Path, c.Version, c.Flags
	case fsm.OpCheck:
		k.Identity, k.Path, k.Version = c.Identity, c.Path, c.Version
	case fsm.OpMulti:
		k.Time, k.Identity = c.Time, c.Identity
		for _, op := range c.Ops {
			k.Ops = append(k.Ops, carried(op))
		}
	case fsm.OpCreateSession:
		k.Session, k.Timeout, k.Identity = c.Session, c.Timeout, c.Identity
	case fsm.OpCloseSession:
		k.Session, k.Identity = c.Session, c.Identity
	case fsm.OpExpireSession:
		k.Session = c.Session
	case fsm.OpSetACL:
		k.Identity, k.Path, k.ACL, k.Version = c.Identity, c.Path, c.ACL, c.Version
	case fsm.OpReap:
		k.Time, k.Path = c.Time, c.Path
	case fsm.OpSetMember:
		k.Path, k.RaftAddr, k.HTTPAddr = c.Path, c.RaftAddr, c.HTTPAddr
	case fsm.OpRemoveMember:
		k.Path = c.Path
	}
	return nilEmpty(k)
}

// perKind reports whether c has the per-kind encoding: its op is a kind,
// and each of its ops is one a multi runs (a create or delete; a setData
// or check without the flags that make a multi refuse it), so that the
// fields Apply reads of it are its kind's.
func perKind(c fsm.Command) bool {
	if c.Op < fsm.OpCreate || c.Op > fsm.OpSetACL {
		return false
	}
	for _, op := range c.Ops {
		switch {
		case op.Op == fsm.OpCreate, op.Op == fsm.OpDelete:
		case op.Op == fsm.OpSetData, op.Op == fsm.OpCheck:
			if op.Flags&(fsm.FlagParents|fsm.FlagRecursive) != 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func withoutACL(c fsm.Command) fsm.Command {
	c.ACL = nil
	if c.Ops != nil {
		ops := make([]fsm.Command, len(c.Ops))
		for i := range c.Ops {
			ops[i] = withoutACL(c.Ops[i])
		}
		c.Ops = ops
	}
	return c
}

func nilEmpty(c fsm.Command) fsm.Command {
	if len(c.Data) == 0 {
		c.Data = nil
	}
	if len(c.Identity) == 0 {
		c.Identity = nil
	}
	if len(c.ACL) == 0 {
		c.ACL = nil
	}
	if len(c.Ops) == 0 {
		c.Ops = nil
	} else {
		ops := make([]fsm.Command, len(c.Ops))
		for i := range c.Ops {
			ops[i] = nilEmpty(c.Ops[i])
		}
		c.Ops = ops
	}
	return c
}

// everyField is c with every field a kind might not carry set.
func everyField(c fsm.Command) fsm.Command {
	c.Time, c.Session, c.Identity = 77, 88, []string{"digest:eve:x"}
	c.Path, c.Data, c.Version, c.Flags = "/every", []byte("data"), 99, fsm.FlagRecursive|fsm.FlagParents
	c.TTL, c.Timeout, c.RaftAddr, c.HTTPAddr = 1000, 4000, "r:1", "h:2"
	c.ACL = []api.ACL{{Scheme: "ip", ID: "10.0.0.0/8", Perms: api.PermRead}}
	return c
}

func TestEncodeDecodeRoundTripsEveryField(t *testing.T) {
	for i, c := range sampleCommands() {
		if got := carried(c); !reflect.DeepEqual(got, c) {
			t.Fatalf("sample %d (%s) sets fields its kind does not carry:\n%+v\n%+v", i, c.Op, c, got)
		}
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

func TestEncodeWritesOnlyTheFieldsOfTheKind(t *testing.T) {
	for _, op := range kinds {
		c := everyField(fsm.Command{Op: op})
		if op == fsm.OpMulti {
			c.Ops = []fsm.Command{everyField(fsm.Command{Op: fsm.OpCreate}), everyField(fsm.Command{Op: fsm.OpCheck})}
		}
		got, err := fsm.Decode(c.Encode(nil))
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if want := carried(c); !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", op, *got, want)
		}
	}
}

func TestEncodeIsNoLargerThanTheLegacyLayout(t *testing.T) {
	for i, c := range sampleCommands() {
		c = withoutACL(c) // which the legacy layout cannot carry
		if n, old := len(c.Encode(nil)), len(legacyEncode(c, true)); n > old {
			t.Errorf("command %d (%s): %d bytes, the legacy layout %d", i, c.Op, n, old)
		}
	}
}

func TestEncodeAppendsToBuffer(t *testing.T) {
	for _, c := range []fsm.Command{{Op: fsm.OpCreate, Path: "/a"}, {Op: 0, Path: "/a"}} {
		buf := c.Encode([]byte("prefix"))
		if !bytes.HasPrefix(buf, []byte("prefix")) {
			t.Fatalf("Encode dropped the buffer's content")
		}
		if got, err := fsm.Decode(buf[len("prefix"):]); err != nil || got.Path != "/a" {
			t.Errorf("decode of appended encoding: %+v, %v", got, err)
		}
	}
}

func TestDecodeTreatsEmptyDataAsNil(t *testing.T) {
	// Encode cannot tell nil from empty; Decode yields nil for both, which
	// Apply treats alike.
	for _, c := range []fsm.Command{
		{Op: fsm.OpSetData, Path: "/a", Data: []byte{}, Identity: []string{}},
		{Op: fsm.OpMulti, Identity: []string{}, Ops: []fsm.Command{}},
	} {
		got, err := fsm.Decode(c.Encode(nil))
		if err != nil || got.Data != nil || got.Identity != nil || got.Ops != nil {
			t.Errorf("decode = %+v, %v; want nil Data, Identity and Ops", got, err)
		}
	}
}

// An op that is no kind, or a multi holding an op a multi refuses, is
// never proposed, and Apply refuses it; the codec still has an encoding for
// it (the legacy layout, which carries any op and every field), so that
// such a command never becomes an entry no node can read, and Apply
// refuses the decoded command exactly as it would the original.
func TestCommandsAKindCannotCarryKeepTheLegacyLayout(t *testing.T) {
	for _, c := range []fsm.Command{
		{Path: "/a", Version: 4, Timeout: 5},
		{Op: 14, Time: 1, Session: 2, Identity: []string{"i"}, Path: "/p", Data: []byte("d"), Version: -1,
			Flags: 0xff, TTL: 3, Timeout: 4, RaftAddr: "r", HTTPAddr: "h"},
		{Op: 0xff, Flags: 0xff, Path: "not a path \x00\xff"},
		{Op: fsm.OpMulti, Time: 1, Ops: []fsm.Command{{Op: fsm.OpCheck, Path: "/a", Time: 8}, {Op: 0, Path: "/b"}}},
		// Ops a multi refuses, by their path or by flags their kind does
		// not carry: Apply must answer the decoded multi as it would this.
		{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpCreateSession, Path: "/a", Session: 3}}},
		{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpMulti, Path: "/a"}}},
		{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpBarrier}}},
		{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpReap, Path: "/a", Time: 4}}},
		{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpSetData, Path: "/a", Flags: fsm.FlagParents}}},
		{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpCheck, Path: "/a", Flags: fsm.FlagRecursive}}},
	} {
		enc := c.Encode(nil)
		if enc[0] != 0x01 || !bytes.Equal(enc, legacyEncode(c, true)) {
			t.Errorf("%+v encodes as %x; want the legacy layout %x", c, enc, legacyEncode(c, true))
		}
		got, err := fsm.Decode(enc)
		if err != nil || !reflect.DeepEqual(*got, c) {
			t.Errorf("decode = %+v, %v; want %+v", got, err, c)
		}
	}
}

func TestDecodeReadsLegacyEntriesOfBothShapes(t *testing.T) {
	var cmds []fsm.Command
	for _, c := range sampleCommands() {
		cmds = append(cmds, c, everyField(c))
	}
	for i, c := range cmds {
		c.ACL = nil // the legacy layout is older than ACLs
		for _, members := range []bool{true, false} {
			if !members {
				c.RaftAddr, c.HTTPAddr = "", ""
			}
			enc := legacyEncode(c, members)
			got, err := fsm.Decode(enc)
			if err != nil {
				t.Fatalf("command %d (%s), members %v: %v", i, c.Op, members, err)
			}
			if want := carried(c); !reflect.DeepEqual(*got, want) {
				t.Errorf("command %d (%s), members %v:\ngot  %+v\nwant %+v", i, c.Op, members, *got, want)
			}
			// Then it is an ordinary command.
			if again, err := fsm.Decode(got.Encode(nil)); err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("command %d: re-encoded: %+v, %v", i, again, err)
			}
		}
	}
}

func TestDecodeRejectsCorruptInput(t *testing.T) {
	valid := sampleCommands()[12].Encode(nil) // the multi
	legacy := legacyEncode(sampleCommands()[0], true)
	nested := fsm.Command{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpCheck}}}}}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"zero type", []byte{0}},
		{"type byte only", []byte{0x84}},
		{"payload version 0", []byte{0x84, 0, 0, 0, 0}},
		{"trailing byte", append(append([]byte(nil), valid...), 0)},
		{"multi nested in multi", nested.Encode(nil)},
		{"legacy multi nested in multi", legacyEncode(nested, true)},
		{"version above int32", encodeCheckVersion(math.MaxInt32 + 1)},
		{"version below int32", encodeCheckVersion(math.MinInt32 - 1)},
		{"huge path length", []byte{0x84, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"huge identity count", []byte{0x84, 1, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"huge op count", []byte{0x85, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"overlong varint", append([]byte{0x81, 1}, bytes.Repeat([]byte{0x80}, 11)...)},
		{"legacy entry inside a multi", append([]byte{0x85, 1, 0, 0, 1}, legacy...)},
		{"untyped op inside a multi", []byte{0x85, 1, 0, 0, 1, 0x04, 1, 0, 0, 0}},
		// Encode writes a multi holding an op it does not run in the
		// legacy layout: the per-kind one has no such multi.
		{"barrier inside a multi", []byte{0x85, 1, 0, 0, 1, 0x8a, 1}},
		{"empty multi inside a multi", []byte{0x85, 1, 0, 0, 1, 0x85, 1, 0, 0, 0}},
		{"reap inside a multi", []byte{0x85, 1, 0, 0, 1, 0x89, 1, 0, 2, '/', 'a'}},
		{"an untyped first byte", []byte{2, 0x81, 1}},
		{"text", []byte("bad")},
		{"legacy marker only", []byte{1}},
		{"legacy trailing byte", append(append([]byte(nil), legacy...), 0)},
		{"legacy huge path length", []byte{1, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"legacy huge identity count", []byte{1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"legacy overlong varint", append([]byte{1, 1}, bytes.Repeat([]byte{0x80}, 11)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := fsm.Decode(tc.data)
			if !errors.Is(err, fsm.ErrCorrupt) || errors.Is(err, fsm.ErrUnknownVersion) || c != nil {
				t.Errorf("Decode = %+v, %v; want ErrCorrupt", c, err)
			}
		})
	}
	// The hand encoding is right: an in-range version decodes.
	if c, err := fsm.Decode(encodeCheckVersion(math.MaxInt32)); err != nil || c.Version != math.MaxInt32 || c.Op != fsm.OpCheck {
		t.Fatalf("hand-encoded check: %+v, %v", c, err)
	}
	for _, whole := range [][]byte{valid, legacy} {
		for n := 0; n < len(whole); n++ {
			if &whole[0] == &legacy[0] && n == len(whole)-2 {
				// Without its two empty member fields, a legacy create is
				// the same create in the older shape.
				if c, err := fsm.Decode(whole[:n]); err != nil || !reflect.DeepEqual(*c, sampleCommands()[0]) {
					t.Errorf("legacy create without member fields = %+v, %v", c, err)
				}
				continue
			}
			if c, err := fsm.Decode(whole[:n]); !errors.Is(err, fsm.ErrCorrupt) {
				t.Errorf("Decode of the first %d of %d bytes = %+v, %v; want ErrCorrupt", n, len(whole), c, err)
			}
		}
	}
}

// A multi's ops are entries of their kinds; the per-kind layout holds only
// those a multi runs, since Encode writes any other multi in the legacy
// layout: each kind inside a multi decodes exactly when Encode would write
// that multi so.
func TestMultiHoldsOnlyTheOpsAMultiRuns(t *testing.T) {
	for _, op := range kinds {
		for _, flags := range []fsm.Flags{0, fsm.FlagParents, fsm.FlagRecursive} {
			inner := fsm.Command{Op: op, Path: "/a", Flags: flags}
			multi := fsm.Command{Op: fsm.OpMulti, Ops: []fsm.Command{inner}}
			// inner's per-kind entry drops the flags of a setData or check.
			runs := perKind(fsm.Command{Op: fsm.OpMulti, Ops: []fsm.Command{carried(inner)}})
			hand := append([]byte{0x85, 1, 0, 0, 1}, inner.Encode(nil)...) // time 0, no identity, one op
			got, err := fsm.Decode(hand)
			switch {
			case runs && (err != nil || !bytes.Equal(got.Encode(nil), hand)):
				t.Errorf("a multi holding %s (flags %d): %+v, %v; want it read back as written", op, flags, got, err)
			case !runs && !errors.Is(err, fsm.ErrCorrupt):
				t.Errorf("a multi holding %s (flags %d), in the per-kind layout: %+v, %v; want ErrCorrupt", op, flags, got, err)
			}
			if enc := multi.Encode(nil); (enc[0] == 0x85) != perKind(multi) {
				t.Errorf("a multi holding %s (flags %d) encodes as %x", op, flags, enc)
			}
		}
	}
}

// encodeCheckVersion hand-encodes a check whose version may not fit an int32.
func encodeCheckVersion(v int64) []byte {
	b := []byte{0x80 | byte(fsm.OpCheck), 1, 0, 0} // type, version 1, no identity, empty path
	return appendVarint(b, v)
}

func TestDecodeRefusesWhatANewerVersionWrote(t *testing.T) {
	create := (&fsm.Command{Op: fsm.OpCreate, Path: "/a"}).Encode(nil)
	newer := append([]byte{create[0], create[1] + 1}, create[2:]...)
	for _, tc := range []struct {
		name string
		data []byte
		says string
	}{
		{"a newer create", newer, "create payload version 3"},
		{"a newer create, shorter than any create", []byte{0x81, 3}, "create payload version 3"},
		{"a kind this version does not know", []byte{0x80 | 14, 1, 0}, "command type 14"},
		{"the highest kind", []byte{0xff, 1}, "command type 127"},
		{"a newer op inside a multi", append([]byte{0x85, 1, 0, 0, 1}, newer...), "create payload version 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := fsm.Decode(tc.data)
			if !errors.Is(err, fsm.ErrUnknownVersion) || errors.Is(err, fsm.ErrCorrupt) || c != nil {
				t.Fatalf("Decode = %+v, %v; want ErrUnknownVersion", c, err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

func appendVarint(b []byte, v int64) []byte {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return appendUvarint(b, u)
}

func appendUvarint(b []byte, u uint64) []byte {
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

func TestDecodeAcceptsOnlyCanonicalEncodings(t *testing.T) {
	// A varint with redundant continuation bytes would decode to the same
	// command as the minimal one, so re-encoding would not give back the
	// entry's bytes: Decode refuses it, in both layouts.
	c := fsm.Command{Op: fsm.OpSetData, Path: "/a", Version: fsm.AnyVersion}
	for _, canonical := range [][]byte{c.Encode(nil), legacyEncode(c, true)} {
		// canonical[2] is Time = 0 as a one-byte varint; spell it 0x80 0x00.
		padded := append(append(append([]byte(nil), canonical[:2]...), 0x80, 0x00), canonical[3:]...)
		if got, err := fsm.Decode(padded); err == nil {
			t.Errorf("Decode(%x) = %+v, nil; want ErrCorrupt for a non-minimal varint (canonical %x)", padded, *got, canonical)
		}
	}
}

func TestOpNames(t *testing.T) {
	for op, want := range map[fsm.Op]string{
		fsm.OpCreate: "create", fsm.OpSetData: "set", fsm.OpDelete: "delete", fsm.OpCheck: "check",
		fsm.OpMulti: "multi", fsm.OpCreateSession: "createSession", fsm.OpCloseSession: "closeSession",
		fsm.OpExpireSession: "expireSession", fsm.OpReap: "reap", fsm.OpBarrier: "barrier",
		fsm.OpSetMember: "setMember", fsm.OpRemoveMember: "removeMember", fsm.OpSetACL: "setACL",
		0: "unknown", 14: "unknown", 255: "unknown",
	} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", op, got, want)
		}
	}
}

// legacyEncode writes c in the legacy layout (codec version 1), by hand
// from its description: a byte 1, then every field whatever the op, nested
// ops alike; with members, each command ends with the member addresses.
func legacyEncode(c fsm.Command, members bool) []byte {
	return appendLegacy([]byte{1}, c, members)
}

func appendLegacy(b []byte, c fsm.Command, members bool) []byte {
	str := func(b []byte, s string) []byte { return append(appendUvarint(b, uint64(len(s))), s...) }
	b = append(b, byte(c.Op))
	b = appendVarint(b, c.Time)
	b = appendUvarint(b, uint64(c.Session))
	b = appendUvarint(b, uint64(len(c.Identity)))
	for _, id := range c.Identity {
		b = str(b, id)
	}
	b = str(b, c.Path)
	b = str(b, string(c.Data))
	b = appendVarint(b, int64(c.Version))
	b = append(b, byte(c.Flags))
	b = appendVarint(b, c.TTL)
	b = appendVarint(b, c.Timeout)
	b = appendUvarint(b, uint64(len(c.Ops)))
	for _, op := range c.Ops {
		b = appendLegacy(b, op, members)
	}
	if members {
		b = str(b, c.RaftAddr)
		b = str(b, c.HTTPAddr)
	}
	return b
}
