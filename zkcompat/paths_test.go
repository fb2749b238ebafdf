package zkcompat

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// invalidPaths are invalid by DESIGN §3 and by ZooKeeper's
// PathUtils.validatePath. "$" is the test's root, which has a child "a".
var invalidPaths = []struct {
	name string
	path string
	rest bool // expressible as a REST URL (a relative path is not)
	// seqOK: as a sequential prefix the path is valid, since a path is
	// checked after the suffix is added ("/a/" makes "/a/0000000001").
	seqOK bool
}{
	{"trailing slash", "$/a/", true, true},
	{"double slash", "$//a", true, false},
	{"empty segment", "$/a//b", true, false},
	{"dot segment", "$/a/./b", true, false},
	{"trailing dot segment", "$/a/.", true, true},
	{"dot-dot segment", "$/a/../a", true, false},
	{"trailing dot-dot", "$/a/..", true, true},
	{"NUL", "$/a\x00b", true, false},
	{"U+0001", "$/a\x01b", true, false},
	{"U+001F", "$/a\x1fb", true, false},
	{"U+007F", "$/a\x7fb", true, false},
	{"U+0085", "$/a\u0085b", true, false},
	{"U+009F", "$/a\u009fb", true, false},
	{"U+E000", "$/a\ue000b", true, false},
	{"U+F8FF", "$/a\uf8ffb", true, false},
	{"U+FFF0", "$/a\ufff0b", true, false},
	{"U+FFFD", "$/a\ufffdb", true, false},
	{"U+FFFF", "$/a\uffffb", true, false},
	{"invalid UTF-8", "$/a\xffb", true, false},
	{"overlong UTF-8", "$/a\xc0\xafb", true, false},
	// Java strings are UTF-16: a code point above U+FFFF is a surrogate
	// pair, inside the range U+D800–F8FF that ZooKeeper refuses. So
	// ZooKeeper refuses every supplementary-plane character (emoji, ...).
	{"U+1F600 (supplementary)", "$/a\U0001F600b", true, false},
	{"relative", "cmp-relative", false, false},
	{"empty", "", false, false},
}

// TestInvalidPaths: both systems reject invalid paths.
//
// ZooKeeper's server checks paths on create, setData and check only, and
// on create it looks the parent up first: so it answers NoNode to a delete
// of an invalid path, to a create whose parent is missing ("/a//b": no
// parent "/a/"), and to every read. Its clients check paths before sending
// them (PathUtils.validatePath in Java, validatePath in go-zookeeper, which
// misses some of the ranges above). DESIGN §3 is explicit that Canopy
// answers BadArguments to every operation on an invalid path, reads
// included; that is what is asserted for Canopy. For ZooKeeper the test
// asserts that the write fails, and logs where it says NoNode.
func TestInvalidPaths(t *testing.T) {
	needSystems(t)
	t.Parallel()
	root := fmt.Sprintf("/cmp-badpaths-%d", seqCounter.Add(1))
	zs, cs := newSides(t, root)
	for _, s := range []*side{zs, cs} {
		for _, p := range []string{"$", "$/a"} {
			if _, code := s.sys.create(s.abs(p), nil, persistent, 0, 0); code != "" {
				t.Fatalf("%s: create %s: %s", s.sys.name(), p, code)
			}
		}
	}

	var notes []string
	defer func() {
		if len(notes) > 0 {
			t.Logf("zookeeper answered NoNode (not BadArguments) to:\n\t%s", strings.Join(notes, "\n\t"))
		}
	}()
	for _, pc := range invalidPaths {
		zp, cp := zs.abs(pc.path), cs.abs(pc.path)
		// Writes in a multi: go-zookeeper does not check these paths,
		// ZooKeeper's server decides.
		for _, m := range []mop{
			{op: "create", data: "x"},
			{op: "create", kind: sequential},
			{op: "set", data: "x", version: -1},
			{op: "delete", version: -1},
			{op: "check", version: -1},
		} {
			what := fmt.Sprintf("%s %q: multi[%s]", pc.name, pc.path, m.op)
			if m.op == "create" {
				what = fmt.Sprintf("%s %q: multi[create %s]", pc.name, pc.path, m.kind)
			}
			zm, cm := m, m
			zm.path, cm.path = zp, cp
			zr, zi, zc := zs.sys.multi(0, []mop{zm})
			cr, ci, cc := cs.sys.multi(0, []mop{cm})
			if pc.seqOK && m.kind == sequential {
				zpath, cpath := "", ""
				if len(zr) == 1 {
					zpath = zs.rel(zr[0].path)
				}
				if len(cr) == 1 {
					cpath = cs.rel(cr[0].path)
				}
				if zc != "" || cc != "" || zpath != cpath {
					t.Errorf("%s: a valid sequential prefix: zookeeper %q %q, canopy %q %q", what, zc, zpath, cc, cpath)
				}
				continue
			}
			switch zc {
			case "BadArguments":
			case "NoNode":
				notes = append(notes, what)
			default:
				t.Errorf("%s: zookeeper answered %q (failed op %d): the path is not invalid as this case assumes", what, zc, zi)
			}
			if cc != "BadArguments" || ci != 0 || len(cr) != 1 || cr[0].code != "BadArguments" {
				t.Errorf("%s: canopy answered %q, failed op %d, results %+v; want BadArguments at op 0 (zookeeper: %q)",
					what, cc, ci, cr, zc)
			}
		}
		if !pc.rest {
			continue
		}
		// Single operations: Canopy's REST routes against the Go client.
		type single struct {
			op     string
			zk, cp func() string
		}
		ops := []single{
			{"create", func() string { _, c := zs.sys.create(zp, nil, persistent, 0, 0); return c },
				func() string { _, c := cs.sys.create(cp, nil, persistent, 0, 0); return c }},
			{"get", func() string { _, _, c := zs.sys.get(zp); return c },
				func() string { _, _, c := cs.sys.get(cp); return c }},
			{"exists", func() string { _, c := zs.sys.exists(zp); return c },
				func() string { _, c := cs.sys.exists(cp); return c }},
			{"children", func() string { _, _, c := zs.sys.children(zp); return c },
				func() string { _, _, c := cs.sys.children(cp); return c }},
			{"set", func() string { _, c := zs.sys.set(zp, []byte("x"), -1, false); return c },
				func() string { _, c := cs.sys.set(cp, []byte("x"), -1, false); return c }},
			{"delete", func() string { return zs.sys.del(zp, -1, false) },
				func() string { return cs.sys.del(cp, -1, false) }},
		}
		if !pc.seqOK {
			ops = append(ops, single{"create sequential",
				func() string { _, c := zs.sys.create(zp, nil, sequential, 0, 0); return c },
				func() string { _, c := cs.sys.create(cp, nil, sequential, 0, 0); return c }})
		}
		for _, o := range ops {
			zc := o.zk()
			if zc != "BadArguments" {
				notes = append(notes, fmt.Sprintf("%s %q: %s (go-zookeeper: %s)", pc.name, pc.path, o.op, zc))
			}
			if cc := o.cp(); cc != "BadArguments" {
				t.Errorf("%s %q: REST %s: canopy answered %q, want BadArguments (zookeeper: %q)", pc.name, pc.path, o.op, cc, zc)
			}
		}
		if pc.seqOK {
			// go-zookeeper refuses "/a/." even as a sequential prefix, so
			// ZooKeeper's side goes through a multi.
			zr, _, zc := zs.sys.multi(0, []mop{{op: "create", path: zp, kind: sequential}})
			cpath, cc := cs.sys.create(cp, nil, sequential, 0, 0)
			zpath := ""
			if len(zr) == 1 {
				zpath = zs.rel(zr[0].path)
			}
			if zc != "" || cc != "" || zpath != cs.rel(cpath) {
				t.Errorf("%s %q: REST create sequential (a valid prefix): zookeeper %q %q, canopy %q %q",
					pc.name, pc.path, zc, zpath, cc, cs.rel(cpath))
			}
		}
	}

	// Nothing else was created: the trees hold the same names.
	for _, p := range []string{"$", "$/a"} {
		zch, _, _ := zs.sys.children(zs.abs(p))
		cch, _, _ := cs.sys.children(cs.abs(p))
		sort.Strings(zch)
		sort.Strings(cch)
		if !reflect.DeepEqual(zch, cch) {
			t.Errorf("children of %s after it all: zookeeper %q, canopy %q", p, zch, cch)
		}
	}
}

// TestRootAndReserved compares the built-in nodes and checks Canopy's rule
// for writes under /zookeeper.
func TestRootAndReserved(t *testing.T) {
	needSystems(t)
	t.Parallel()
	zs, cs := newSides(t, "/")

	// "/" lists "zookeeper" on both (other tests' roots are there too).
	for _, s := range []*side{zs, cs} {
		ch, _, code := s.sys.children("/")
		found := false
		for _, c := range ch {
			found = found || c == "zookeeper"
		}
		if code != "" || !found {
			t.Errorf("%s: children of /: %q %q, want a list holding \"zookeeper\"", s.sys.name(), code, ch)
		}
	}
	// The /zookeeper subtree reads the same: empty persistent nodes with
	// zxids 0. Two of ZooKeeper's Stat fields there are artefacts of how it
	// builds these nodes, and are not compared: /zookeeper has cversion -2
	// (ZooKeeper stores the number of child creates and reports
	// 2*creates - numChildren, and these children were never created), and
	// /zookeeper/config has aversion -1. DESIGN §3 defines cversion as
	// creates plus deletes, which makes it 0 there.
	for _, p := range []string{"/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		zd, zst, zc := zs.sys.get(p)
		cd, cst, cc := cs.sys.get(p)
		zch, _, _ := zs.sys.children(p)
		cch, _, _ := cs.sys.children(p)
		sort.Strings(zch)
		sort.Strings(cch)
		show := func(code string, d []byte, st *nstat, ch []string) string {
			if st == nil {
				return fmt.Sprintf("code=%q", code)
			}
			return fmt.Sprintf("code=%q data=%q czxid=%d mzxid=%d pzxid=%d version=%d dataLength=%d numChildren=%d ephemeralOwner=%x children=%q",
				code, d, st.Czxid, st.Mzxid, st.Pzxid, st.Version, st.DataLength, st.NumChildren, st.EphemeralOwner, ch)
		}
		if z, c := show(zc, zd, zst, zch), show(cc, cd, cst, cch); z != c {
			t.Errorf("get %s:\n\tzookeeper: %s\n\tcanopy:    %s", p, z, c)
		}
		if zst != nil && cst != nil && (zst.Cversion != cst.Cversion || zst.Aversion != cst.Aversion) {
			t.Logf("note: %s: cversion/aversion: zookeeper %d/%d, canopy %d/%d (not compared)",
				p, zst.Cversion, zst.Aversion, cst.Cversion, cst.Aversion)
		}
	}

	// Writes under /zookeeper. Canopy is deliberately stricter than
	// ZooKeeper (DESIGN §3): every write there is BadArguments. ZooKeeper
	// only refuses to delete its special nodes (/zookeeper, /zookeeper/quota,
	// /zookeeper/config) with BadArguments; it lets clients create children
	// under /zookeeper and set data on /zookeeper and /zookeeper/quota, and
	// answers NoAuth for writes to /zookeeper/config (read-only ACL). So this
	// part asserts Canopy's rule only and logs what ZooKeeper does.
	type write struct {
		what   string
		zk, cp func() string
	}
	writes := []write{
		{"create /zookeeper/cmp-x",
			func() string { _, c := zs.sys.create("/zookeeper/cmp-x", nil, persistent, 0, 0); return c },
			func() string { _, c := cs.sys.create("/zookeeper/cmp-x", nil, persistent, 0, 0); return c }},
		{"create /zookeeper/quota/cmp-s- sequential",
			func() string { _, c := zs.sys.create("/zookeeper/quota/cmp-s-", nil, sequential, 0, 0); return c },
			func() string { _, c := cs.sys.create("/zookeeper/quota/cmp-s-", nil, sequential, 0, 0); return c }},
		{"create /zookeeper/cmp-e ephemeral",
			func() string { _, c := zs.sys.create("/zookeeper/cmp-e", nil, ephemeral, 0, 1); return c },
			func() string { _, c := cs.sys.create("/zookeeper/cmp-e", nil, ephemeral, 0, 1); return c }},
		{"create /zookeeper (exists)",
			func() string { _, c := zs.sys.create("/zookeeper", nil, persistent, 0, 0); return c },
			func() string { _, c := cs.sys.create("/zookeeper", nil, persistent, 0, 0); return c }},
		{"set /zookeeper",
			func() string { _, c := zs.sys.set("/zookeeper", []byte("x"), -1, false); return c },
			func() string { _, c := cs.sys.set("/zookeeper", []byte("x"), -1, false); return c }},
		{"set /zookeeper/quota",
			func() string { _, c := zs.sys.set("/zookeeper/quota", []byte("x"), -1, false); return c },
			func() string { _, c := cs.sys.set("/zookeeper/quota", []byte("x"), -1, false); return c }},
		{"set /zookeeper/config",
			func() string { _, c := zs.sys.set("/zookeeper/config", []byte("x"), -1, false); return c },
			func() string { _, c := cs.sys.set("/zookeeper/config", []byte("x"), -1, false); return c }},
		{"delete /zookeeper/quota",
			func() string { return zs.sys.del("/zookeeper/quota", -1, false) },
			func() string { return cs.sys.del("/zookeeper/quota", -1, false) }},
		{"delete /zookeeper/config",
			func() string { return zs.sys.del("/zookeeper/config", -1, false) },
			func() string { return cs.sys.del("/zookeeper/config", -1, false) }},
		{"delete /zookeeper",
			func() string { return zs.sys.del("/zookeeper", -1, false) },
			func() string { return cs.sys.del("/zookeeper", -1, false) }},
		{"delete /zookeeper/cmp-x",
			func() string { return zs.sys.del("/zookeeper/cmp-x", -1, false) },
			func() string { return cs.sys.del("/zookeeper/cmp-x", -1, false) }},
		{"multi[create /zookeeper/cmp-m]",
			func() string { _, _, c := zs.sys.multi(0, []mop{{op: "create", path: "/zookeeper/cmp-m"}}); return c },
			func() string { _, _, c := cs.sys.multi(0, []mop{{op: "create", path: "/zookeeper/cmp-m"}}); return c }},
		{"multi[check /zookeeper]",
			func() string {
				_, _, c := zs.sys.multi(0, []mop{{op: "check", path: "/zookeeper", version: -1}})
				return c
			},
			func() string {
				_, _, c := cs.sys.multi(0, []mop{{op: "check", path: "/zookeeper", version: -1}})
				return c
			}},
	}
	for _, w := range writes {
		zc, cc := w.zk(), w.cp()
		t.Logf("%s: zookeeper %q, canopy %q", w.what, zc, cc)
		if w.what == "multi[check /zookeeper]" {
			// A check writes nothing; both let it pass.
			if zc != "" || cc != "" {
				t.Errorf("%s: zookeeper %q, canopy %q; want both ok", w.what, zc, cc)
			}
			continue
		}
		if cc != "BadArguments" {
			t.Errorf("%s: canopy answered %q, want BadArguments (DESIGN §3: every write under /zookeeper; zookeeper: %q)", w.what, cc, zc)
		}
	}
	// Undo what ZooKeeper let through, for tidiness.
	if ch, _, _ := zs.sys.children("/zookeeper/quota"); len(ch) > 0 {
		for _, c := range ch {
			zs.sys.del("/zookeeper/quota/"+c, -1, true)
		}
	}
	zs.sys.del("/zookeeper/cmp-m", -1, true)
}
