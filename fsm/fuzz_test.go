package fsm_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// pathOracle is ZooKeeper's path rule written independently of ValidatePath:
// split on "/", then look at each segment's runes.
func pathOracle(p string) bool {
	if p == "/" {
		return true
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || !utf8.ValidString(p) {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for _, r := range seg {
			switch {
			case r < 0x20, r >= 0x7f && r < 0xa0, r >= 0xd800 && r < 0xf900, r >= 0xfff0:
				return false
			}
		}
	}
	return true
}

func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{
		"/", "", "a", "/a", "/a/b", "//", "/a/", "/.", "/..", "/a/./b", "/a..", "/zookeeper/config",
		"/\x00", "/\x1f", "/\x7f", "/\u0080", "/\u009f", "/\u00a0", "/\ud7ff", "/\ue000", "/\uf8ff",
		"/\uf900", "/\uffef", "/\ufff0", "/\uffff", "/\U00010000", "/\xff", "/\xed\xa0\x80", "/日本/語",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := fsm.ValidatePath(p)
		if want := pathOracle(p); (err == nil) != want {
			t.Fatalf("ValidatePath(%q) = %v, but the rule says valid=%v", p, err, want)
		}
		if err != nil {
			if api.CodeOf(err) != api.CodeBadArguments {
				t.Fatalf("ValidatePath(%q) = %v, want BadArguments", p, err)
			}
			return
		}
		if p == "/" {
			return
		}
		// Every accepted path is made of accepted one-segment paths, and
		// splits and joins back into itself.
		for _, seg := range strings.Split(p[1:], "/") {
			if err := fsm.ValidatePath("/" + seg); err != nil {
				t.Fatalf("ValidatePath(%q) = nil but its segment %q: %v", p, seg, err)
			}
		}
		parent, base := fsm.ParentPath(p), fsm.BaseName(p)
		if err := fsm.ValidatePath(parent); err != nil {
			t.Fatalf("parent %q of valid %q: %v", parent, p, err)
		}
		if got := fsm.JoinPath(parent, base); got != p {
			t.Fatalf("JoinPath(ParentPath, BaseName) of %q = %q", p, got)
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, c := range sampleCommands() {
		f.Add(c.Encode(nil))
		f.Add(legacyEncode(c, true))
		f.Add(legacyEncode(c, false))
	}
	for _, data := range goldenEntries(f) {
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 5, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 4, 0, 0, 0, 2, '/', 'a', 0, 1, 0, 0, 0, 0})
	f.Add([]byte{0x85, 1, 0, 0, 2, 0x84, 1, 0, 2, '/', 'a', 1, 0x81, 2, 0})
	f.Add([]byte{0x8d, 1})
	f.Add([]byte{0x85, 1, 0, 0, 1, 0x8a, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := fsm.Decode(data)
		if err != nil {
			if errors.Is(err, fsm.ErrCorrupt) == errors.Is(err, fsm.ErrUnknownVersion) || c != nil {
				t.Fatalf("Decode = %+v, %v; want nil and one of ErrCorrupt and ErrUnknownVersion", c, err)
			}
			return
		}
		enc := c.Encode(nil)
		again, err := fsm.Decode(enc)
		if err != nil {
			t.Fatalf("re-encoding of %+v does not decode: %v", c, err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("decode(encode(c)) != c:\n%+v\n%+v", again, c)
		}
		if !reflect.DeepEqual(*c, carried(*c)) {
			t.Fatalf("Decode(%x) = %+v, with fields its kind does not carry", data, *c)
		}
		// One command, one encoding: only a legacy entry may have
		// another (it carries fields the command's kind does not, or it
		// is of the shape without member fields).
		// An entry of an older version of its kind (or a multi holding
		// one) re-encodes at the latest.
		if data[0] != 0x01 && !bytes.Equal(enc, data) && data[1] == fsm.LatestVersion(c.Op) && c.Op != fsm.OpMulti {
			t.Fatalf("Decode accepted %x, which re-encodes as %x", data, enc)
		}
		if enc[0] == 0x01 && !bytes.Equal(enc, legacyEncode(*c, true)) {
			t.Fatalf("%+v encodes as %x, neither per kind nor in the legacy layout", *c, enc)
		}
	})
}

// FuzzApply runs a program of commands against a fresh tree. A program is a
// sequence of instructions: a byte with the top bit set is followed by a
// length byte and that many bytes of a command's encoding (fed to Decode;
// undecodable ones are skipped); any other byte starts a command built from
// the bytes that follow (see fuzzCommand), so that random input reaches deep
// into the semantics.
func FuzzApply(f *testing.F) {
	for _, seed := range fuzzApplySeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		tree := fsm.NewTree()
		for i, c := range fuzzProgram(program) {
			res, events := tree.Apply(int64(i+1), c)
			if res.Err != nil && len(events) != 0 {
				t.Fatalf("%s %q failed (%v) but emitted %d events", c.Op, c.Path, res.Err, len(events))
			}
			for _, e := range events {
				if e.Zxid != int64(i+1) {
					t.Fatalf("event at zxid %d from entry %d", e.Zxid, i+1)
				}
			}
		}
		st := captureState(t, tree)
		checkInvariants(t, st)
		if d := diffStates(st, captureState(t, roundTrip(t, tree))); d != "" {
			t.Fatalf("snapshot round trip differs: %s", d)
		}
	})
}

const maxFuzzCommands = 64

func fuzzProgram(b []byte) []*fsm.Command {
	r := &byteReader{b: b}
	var out []*fsm.Command
	var now int64 = t0
	for len(r.b) > 0 && len(out) < maxFuzzCommands {
		if r.b[0]&0x80 != 0 {
			r.next()
			chunk := r.take(int(r.next()))
			if c, err := fsm.Decode(chunk); err == nil {
				out = append(out, c)
			}
			continue
		}
		c := fuzzCommand(r, &now, 0)
		out = append(out, &c)
	}
	return out
}

type byteReader struct{ b []byte }

func (r *byteReader) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *byteReader) take(n int) []byte {
	n = min(n, len(r.b))
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

var fuzzPaths = []string{
	"/", "/a", "/a/b", "/a/b/c", "/b", "/a/", "/b/", "/q-", "/a/q-", "/c",
	"/zookeeper", "/zookeeper/config", "/a//b", "/\xff", "/a/..", "/日",
	"", "a", "zookeeper", "/zookeeper/",
}

var fuzzSessions = []api.ID{1, 2, 0, 1 << 63}

// fuzzCommand builds one command from the next bytes: op, path, flags,
// version, session, TTL, clock step, data, timeout, and for a multi its ops.
func fuzzCommand(r *byteReader, now *int64, depth int) fsm.Command {
	c := fsm.Command{Op: fsm.Op(1 + r.next()%10)}
	c.Path = fuzzPaths[int(r.next())%len(fuzzPaths)]
	c.Flags = fsm.Flags(r.next()) & 0x1f
	c.Version = int32(int8(r.next()))
	c.Session = fuzzSessions[r.next()%4]
	c.TTL = int64(int8(r.next()))
	*now += int64(r.next())
	c.Time = *now
	if n := int(r.next() % 8); n > 0 {
		c.Data = append([]byte(nil), r.take(n)...)
	}
	c.Timeout = int64(r.next()) * 500
	if c.Op == fsm.OpMulti && depth == 0 {
		n := int(r.next() % 6)
		for i := 0; i < n; i++ {
			c.Ops = append(c.Ops, fuzzCommand(r, now, depth+1))
		}
	}
	return c
}

// fuzzApplySeeds are programs of real command encodings.
func fuzzApplySeeds() [][]byte {
	encoded := func(cmds ...fsm.Command) []byte {
		var out []byte
		for _, c := range cmds {
			if c.Time == 0 {
				c.Time = t0
			}
			enc := c.Encode(nil)
			out = append(out, 0x80, byte(len(enc)))
			out = append(out, enc...)
		}
		return out
	}
	return [][]byte{
		encoded(create("/a", "x"), create("/a/b", "y"), set("/a", "z", 0), del("/a/b", fsm.AnyVersion), check("/a", 1)),
		encoded(openSession(1, 0), createEphemeral("/e", "", 1), createEphemeral("/q-", "", 1, fsm.FlagSequential),
			closeSession(1), expireSession(1)),
		encoded(create("/c", "", fsm.FlagContainer), create("/c/k", ""), del("/c/k", fsm.AnyVersion), reap("/c", t0)),
		encoded(withTime(createTTL("/t", "", 5), t0), reap("/t", t0+10), create("/p/q/r", "", fsm.FlagParents), delAll("/p")),
		encoded(create("/m", ""), multi(create("/m/a", ""), set("/m/a", "1", 0), del("/m/a", 1), check("/m", 0)),
			multi(create("/m/b", ""), check("/m", 9))),
		// Built instructions: create /a, set /a "hi", a multi creating /a/b and /b.
		{0, 1, 0, 0xff, 2, 0, 1, 0, 0,
			1, 1, 0, 0xff, 2, 0, 1, 2, 'h', 'i', 0,
			4, 0, 0, 0xff, 2, 0, 0, 0, 0, 2,
			0, 2, 0, 0xff, 2, 0, 0, 0, 0,
			0, 4, 0, 0xff, 2, 0, 0, 0, 0},
		// createSession 1, an ephemeral sequential /a/q- with parents, close.
		{5, 0, 0, 0, 0, 0, 20, 0, 0,
			0, 8, 0x0b, 0xff, 0, 0, 1, 0, 0,
			6, 0, 0, 0, 0, 0, 1, 0, 0},
	}
}
