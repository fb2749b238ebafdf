package fsm_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

var update = flag.Bool("update", false,
	"write the golden file of each per-kind encoding that has none (never a legacy one, never over an existing one)")

const goldenDir = "testdata/golden"

// goldenCase is one entry of testdata/golden/<file>.hex and the command it
// decodes to, written out field by field. The files are the truth: an entry
// any released version wrote must decode, forever, to the same command.
type goldenCase struct {
	file string // <kind>.v<version>, or legacy-{with,without}-members.<kind>
	note string // the file's comment line
	want fsm.Command
	// legacy is the command as the version that wrote the entry proposed
	// it, for the legacy layout's entries; nil for the per-kind layout.
	legacy *fsm.Command
	// olderOps marks a multi whose ops are of older versions of their
	// kinds: Encode writes them at the latest, so it only has to decode.
	olderOps bool
}

const session1 = 0x1f3a5c7e9b2d4f60

func goldenCases() []goldenCase {
	cases := []goldenCase{
		{file: "create.v1", note: "an ephemeral sequential create, with the caller's identity", want: fsm.Command{
			Op: fsm.OpCreate, Time: t0, Session: session1, Identity: []string{"digest:alice:xyz", "ip:127.0.0.1"},
			Path: "/app/locks/lock-", Data: []byte("hello"), Flags: fsm.FlagEphemeral | fsm.FlagSequential}},
		{file: "create-ttl.v1", note: "a TTL node, with its parents", want: fsm.Command{
			Op: fsm.OpCreate, Time: t0 + 1, Path: "/app/cache/x", Data: []byte{0, 1, 0xff}, Flags: fsm.FlagParents, TTL: fsm.MaxTTL}},
		{file: "setData.v1", note: "a setData at version 7", want: fsm.Command{
			Op: fsm.OpSetData, Time: t0 + 2, Identity: []string{"digest:bob:abc"}, Path: "/app/config",
			Data: []byte("v2"), Version: 7}},
		{file: "delete.v1", note: "a recursive delete of any version", want: fsm.Command{
			Op: fsm.OpDelete, Path: "/app/old", Version: fsm.AnyVersion, Flags: fsm.FlagRecursive}},
		{file: "check.v1", note: "a check of the largest version", want: fsm.Command{
			Op: fsm.OpCheck, Identity: []string{"world:anyone"}, Path: "/app", Version: math.MaxInt32}},
		{file: "multi.v1", note: "a multi: create, setData, check, delete", olderOps: true, want: fsm.Command{
			Op: fsm.OpMulti, Time: t0 + 3, Identity: []string{"digest:alice:xyz"}, Ops: []fsm.Command{
				{Op: fsm.OpCreate, Session: 5, Path: "/m", Data: []byte("x"), Flags: fsm.FlagEphemeral},
				{Op: fsm.OpSetData, Path: "/m", Data: []byte("y"), Version: 0},
				{Op: fsm.OpCheck, Path: "/app", Version: -1},
				{Op: fsm.OpDelete, Path: "/m", Version: 1},
			}}},
		{file: "createSession.v1", note: "a session of 10 s, with its identity", want: fsm.Command{
			Op: fsm.OpCreateSession, Session: session1, Timeout: 10000, Identity: []string{"digest:alice:xyz"}}},
		{file: "closeSession.v1", note: "a session closed by its client", want: fsm.Command{
			Op: fsm.OpCloseSession, Session: session1}},
		{file: "closeSession.v2", note: "a session closed by its client, with the caller's identity", want: fsm.Command{
			Op: fsm.OpCloseSession, Session: session1, Identity: []string{"digest:alice:xyz", "ip:127.0.0.1"}}},
		{file: "create.v2", note: "a create with its ACL: a digest user's all, anyone's read", want: fsm.Command{
			Op: fsm.OpCreate, Time: t0 + 12, Session: session1, Identity: []string{"digest:alice:xyz"}, Path: "/app/secret",
			Data: []byte("s"), ACL: []api.ACL{{Scheme: "digest", ID: "alice:xyz", Perms: api.PermAll}, {Scheme: "world", ID: "anyone", Perms: api.PermRead}}}},
		{file: "setACL.v1", note: "a setACL at aversion 3: auth (the caller) all, 10.0.0.0/8 read", want: fsm.Command{
			Op: fsm.OpSetACL, Identity: []string{"digest:alice:xyz", "ip:10.1.2.3"}, Path: "/app/secret", Version: 3,
			ACL: []api.ACL{{Scheme: "auth", Perms: api.PermAll}, {Scheme: "ip", ID: "10.0.0.0/8", Perms: api.PermRead}}}},
		{file: "multi-acl.v1", note: "a multi of the current ops: a create with its ACL, a check", want: fsm.Command{
			Op: fsm.OpMulti, Time: t0 + 13, Identity: []string{"digest:alice:xyz"}, Ops: []fsm.Command{
				{Op: fsm.OpCreate, Path: "/n", ACL: []api.ACL{{Scheme: "x509", ID: "CN=alice,O=Example", Perms: api.PermRead | api.PermWrite}}},
				{Op: fsm.OpCheck, Path: "/n", Version: 0},
			}}},
		{file: "expireSession.v1", note: "a session expired by the leader", want: fsm.Command{
			Op: fsm.OpExpireSession, Session: 1<<63 - 1}},
		{file: "reap.v1", note: "a container or TTL node reaped at the leader's time", want: fsm.Command{
			Op: fsm.OpReap, Time: t0 + 4, Path: "/c"}},
		{file: "barrier.v1", note: "a new leader's barrier", want: fsm.Command{Op: fsm.OpBarrier}},
		{file: "setMember.v1", note: "a member's addresses", want: fsm.Command{
			Op: fsm.OpSetMember, Path: "node2", RaftAddr: "10.0.0.2:8901", HTTPAddr: "[fd00::2]:8900"}},
		{file: "removeMember.v1", note: "a member forgotten", want: fsm.Command{Op: fsm.OpRemoveMember, Path: "node2"}},
	}
	// The legacy layout, as the versions before per-kind payloads proposed
	// commands (the proposer stamped every one with a Time; a multi's ops
	// carried the caller's session and AnyVersion), in both of its shapes.
	written := []fsm.Command{
		{Op: fsm.OpCreate, Time: t0, Session: session1, Path: "/app/locks/lock-", Data: []byte("hello"),
			Version: fsm.AnyVersion, Flags: fsm.FlagEphemeral | fsm.FlagSequential},
		{Op: fsm.OpSetData, Time: t0 + 1, Path: "/app/config", Data: []byte("v2"), Version: 3},
		{Op: fsm.OpDelete, Time: t0 + 2, Path: "/app/old", Version: fsm.AnyVersion, Flags: fsm.FlagRecursive},
		{Op: fsm.OpCheck, Time: t0 + 3, Path: "/app", Version: 0},
		{Op: fsm.OpMulti, Time: t0 + 4, Ops: []fsm.Command{
			{Op: fsm.OpCreate, Session: 5, Path: "/m", Data: []byte("x"), Version: fsm.AnyVersion, Flags: fsm.FlagEphemeral},
			{Op: fsm.OpSetData, Session: 5, Path: "/m", Data: []byte("y"), Version: fsm.AnyVersion},
			{Op: fsm.OpCheck, Session: 5, Path: "/app", Version: 0},
			{Op: fsm.OpDelete, Session: 5, Path: "/m", Version: 1},
		}},
		{Op: fsm.OpCreateSession, Time: t0 + 5, Session: session1, Timeout: 10000, Identity: []string{"digest:alice:xyz"}},
		{Op: fsm.OpCloseSession, Time: t0 + 6, Session: session1},
		{Op: fsm.OpExpireSession, Time: t0 + 7, Session: 1<<63 - 1},
		{Op: fsm.OpReap, Time: t0 + 8, Path: "/c"},
		{Op: fsm.OpBarrier, Time: t0 + 9},
		{Op: fsm.OpSetMember, Time: t0 + 10, Path: "node2", RaftAddr: "10.0.0.2:8901", HTTPAddr: "[fd00::2]:8900"},
		{Op: fsm.OpRemoveMember, Time: t0 + 11, Path: "node2"},
	}
	// Decoded, each keeps only its kind's fields.
	decoded := []fsm.Command{
		{Op: fsm.OpCreate, Time: t0, Session: session1, Path: "/app/locks/lock-", Data: []byte("hello"),
			Flags: fsm.FlagEphemeral | fsm.FlagSequential},
		{Op: fsm.OpSetData, Time: t0 + 1, Path: "/app/config", Data: []byte("v2"), Version: 3},
		{Op: fsm.OpDelete, Path: "/app/old", Version: fsm.AnyVersion, Flags: fsm.FlagRecursive},
		{Op: fsm.OpCheck, Path: "/app", Version: 0},
		{Op: fsm.OpMulti, Time: t0 + 4, Ops: []fsm.Command{
			{Op: fsm.OpCreate, Session: 5, Path: "/m", Data: []byte("x"), Flags: fsm.FlagEphemeral},
			{Op: fsm.OpSetData, Path: "/m", Data: []byte("y"), Version: fsm.AnyVersion},
			{Op: fsm.OpCheck, Path: "/app", Version: 0},
			{Op: fsm.OpDelete, Path: "/m", Version: 1},
		}},
		{Op: fsm.OpCreateSession, Session: session1, Timeout: 10000, Identity: []string{"digest:alice:xyz"}},
		{Op: fsm.OpCloseSession, Session: session1},
		{Op: fsm.OpExpireSession, Session: 1<<63 - 1},
		{Op: fsm.OpReap, Time: t0 + 8, Path: "/c"},
		{Op: fsm.OpBarrier},
		{Op: fsm.OpSetMember, Path: "node2", RaftAddr: "10.0.0.2:8901", HTTPAddr: "[fd00::2]:8900"},
		{Op: fsm.OpRemoveMember, Path: "node2"},
	}
	for i := range written {
		w := written[i]
		cases = append(cases, goldenCase{file: "legacy-with-members." + kindName(w.Op),
			note: "codec version 1, member fields at the end of every command", want: decoded[i], legacy: &w})
		if w.Op >= fsm.OpSetMember {
			continue // members came with the member fields
		}
		cases = append(cases, goldenCase{file: "legacy-without-members." + kindName(w.Op),
			note: "codec version 1, before the member fields", want: decoded[i], legacy: &w})
	}
	return cases
}

// kindName is the kind's name in codec.go's table.
func kindName(op fsm.Op) string {
	if op == fsm.OpSetData {
		return "setData"
	}
	return op.String()
}

func (gc goldenCase) path() string { return filepath.Join(goldenDir, gc.file+".hex") }

func (gc goldenCase) members() bool { return strings.HasPrefix(gc.file, "legacy-with-members.") }

// TestGoldenEncodings decodes every golden file and checks the command it
// gives, field by field; and checks that Encode writes exactly the golden
// bytes of each kind's current version. Changing the layout of a version
// that has a golden file fails it: add a version instead.
func TestGoldenEncodings(t *testing.T) {
	current := map[fsm.Op]bool{} // kinds whose current version has a golden file
	seen := map[string]bool{}
	for _, gc := range goldenCases() {
		seen[gc.file+".hex"] = true
		t.Run(gc.file, func(t *testing.T) {
			data, err := readGolden(gc.path())
			enc := gc.want.Encode(nil)
			switch {
			case errors.Is(err, fs.ErrNotExist) && gc.legacy != nil:
				t.Fatalf("%s is missing: legacy entries are never regenerated; restore it from version control", gc.path())
			case errors.Is(err, fs.ErrNotExist) && *update:
				if err := writeGolden(gc.path(), fmt.Sprintf("%s v%d: %s", kindName(gc.want.Op), enc[1], gc.note), enc); err != nil {
					t.Fatal(err)
				}
				data = enc
			case err != nil:
				t.Fatalf("%v (run go test ./fsm -run Golden -update to write a new version's file)", err)
			}
			got, err := fsm.Decode(data)
			if err != nil {
				t.Fatalf("decode %s: %v", gc.path(), err)
			}
			if diff := diffCommands("", *got, gc.want); len(diff) > 0 {
				t.Errorf("%s decodes differently:\n%s", gc.path(), strings.Join(diff, "\n"))
			}
			if gc.legacy != nil {
				if hand := legacyEncode(*gc.legacy, gc.members()); !bytes.Equal(hand, data) {
					t.Errorf("%s is not the legacy layout of the command written in the test:\nfile %x\nhand %x", gc.path(), data, hand)
				}
				return
			}
			if v := strings.TrimPrefix(filepath.Ext(gc.file), ".v"); len(data) < 2 || data[0] != 0x80|byte(gc.want.Op) || strconv.Itoa(int(data[1])) != v {
				t.Fatalf("%s does not hold a %s entry of version %s: %x", gc.path(), kindName(gc.want.Op), v, data)
			}
			if !bytes.Equal(enc[:2], data[:2]) || gc.olderOps {
				return // an older version of the kind: it only has to decode
			}
			current[gc.want.Op] = true
			if !bytes.Equal(enc, data) {
				t.Errorf("Encode writes %s version %d differently from its golden file, which a released version may have written."+
					" A layout change is a new version of the kind (see codec.go); if this version was never released, delete the file and run -update.\n"+
					"file   %x\nEncode %x", kindName(gc.want.Op), data[1], data, enc)
			}
		})
	}
	// Every kind Encode knows has a golden file at its current version.
	for op := fsm.Op(0); op < 0x80; op++ {
		if enc := (&fsm.Command{Op: op}).Encode(nil); enc[0] != 0x01 && !current[op] {
			t.Errorf("%s (version %d) has no golden case: add one to goldenCases and run -update", kindName(op), enc[1])
		}
	}
	// And every golden file has its case.
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*.hex"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no case in goldenCases: an entry in it must keep decoding", f)
		}
	}
}

// readGolden reads a golden file: comment lines start with #, the rest is
// hex, spaces and line breaks ignored.
func readGolden(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var hexText strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "#") {
			hexText.WriteString(strings.Join(strings.Fields(line), ""))
		}
	}
	return hex.DecodeString(hexText.String())
}

func writeGolden(path, comment string, data []byte) error {
	var out strings.Builder
	fmt.Fprintf(&out, "# %s\n", comment)
	h := hex.EncodeToString(data)
	for len(h) > 64 {
		out.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	out.WriteString(h + "\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out.String()), 0o644)
}

// diffCommands lists the fields in which got differs from want.
func diffCommands(prefix string, got, want fsm.Command) []string {
	var diff []string
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := 0; i < gv.NumField(); i++ {
		name := prefix + gv.Type().Field(i).Name
		if name == prefix+"Ops" {
			if len(got.Ops) != len(want.Ops) {
				diff = append(diff, fmt.Sprintf("  %s: %d ops, want %d", name, len(got.Ops), len(want.Ops)))
				continue
			}
			for j := range got.Ops {
				diff = append(diff, diffCommands(fmt.Sprintf("%s[%d].", name, j), got.Ops[j], want.Ops[j])...)
			}
			continue
		}
		if g, w := gv.Field(i).Interface(), wv.Field(i).Interface(); !reflect.DeepEqual(g, w) {
			diff = append(diff, fmt.Sprintf("  %s: %#v, want %#v", name, g, w))
		}
	}
	return diff
}

// goldenEntries are the golden files' bytes, for the fuzz seeds.
func goldenEntries(tb testing.TB) [][]byte {
	var out [][]byte
	for _, gc := range goldenCases() {
		data, err := readGolden(gc.path())
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}
