package fsm

import (
	"errors"
	"fmt"
)

// What goes into the raft log is a promise to every later version (STYLE
// 13): each command kind has its own versioned payload, and every version
// of every kind stays readable forever. An entry is
//
//	type     1 byte: 0x80 | Op
//	version  1 byte: the version of that kind's payload, from 1
//	payload  that version's fields, in order
//
// Integers are minimal varints (zigzag for signed ones), strings and byte
// slices a uvarint length then the bytes, a list a uvarint count then its
// items, Flags one byte. A kind carries only the fields Apply reads:
//
//	kind           v  fields
//	create         1  time session identity path data flags ttl
//	               2  time session identity path data flags ttl acl
//	setData        1  time identity path data version
//	delete         1  identity path version flags
//	check          1  identity path version
//	multi          1  time identity ops (each op a whole entry: type, version, payload)
//	createSession  1  session timeout identity
//	closeSession   1  session
//	               2  session identity
//	expireSession  1  session
//	reap           1  time path
//	barrier        1  -
//	setMember      1  path raftAddr httpAddr
//	removeMember   1  path
//	setACL         1  identity path acl version
//
// An acl is a list of (scheme string, id string, perms uvarint).
//
// (identity is what Apply checks ACLs and session ownership on; a multi's ops,
// each a create, setData, delete or check, keep their own kind's payload,
// so that a new version of a kind is a new version inside a multi too.)
//
// To change a kind's fields, never edit a version that was released: add
// version N+1 (bump versions below; in codec_kinds.go, add its reader
// beside the old ones and make the encoder write it), add a golden case
// and write its file (go test ./fsm -run Golden -update), and keep every
// older reader. Decode returns ErrUnknownVersion for a kind or a version
// this binary does not know.
//
// A first byte of 0x01 is the legacy layout (codec_legacy.go), which all
// kinds shared up to this one: read, and written only for a command that
// none of the kinds' layouts can carry (see Encode), which is never
// proposed: an op that is no kind, a multi holding one a multi refuses.
// The legacy layout is older than ACLs and carries none: a create's ACL in
// such a multi is dropped, which Apply refuses for its other op anyway.

// typeFlag marks a command type byte; the low 7 bits are the Op.
const typeFlag = 0x80

// maxNesting bounds multi inside multi; only one level is ever proposed.
const maxNesting = 2

// versions is, for each kind, the latest version of its payload: the one
// Encode writes. Decode reads it and every earlier one (see payload).
var versions = [...]byte{
	OpCreate: 2, OpSetData: 1, OpDelete: 1, OpCheck: 1, OpMulti: 1,
	OpCreateSession: 1, OpCloseSession: 2, OpExpireSession: 1, OpReap: 1,
	OpBarrier: 1, OpSetMember: 1, OpRemoveMember: 1, OpSetACL: 1,
}

// LatestVersion is the payload version Encode writes for op's kind.
func LatestVersion(op Op) byte { return latest(op) }

// latest is the payload version Encode writes for op; 0 for an op that is
// not a kind.
func latest(op Op) byte {
	if int(op) >= len(versions) {
		return 0
	}
	return versions[op]
}

// Encode appends the encoding of c to buf: the fields of c's kind, at its
// latest version; the other fields are not written, and decode as zero.
// A command Apply can only refuse, and whose refusal could read a field
// its kind does not carry, is written in the legacy layout instead (see
// codec_legacy.go): one with an op that is no kind, or a multi holding an
// op a multi does not run.
func (c *Command) Encode(buf []byte) []byte {
	if b, ok := c.appendTo(buf); ok {
		return b
	}
	return appendLegacy(buf, c)
}

// runsInMulti reports whether op is one a multi runs, and so one whose
// fields in a multi are its kind's: Apply refuses any other by its path,
// and a setData or check with FlagParents or FlagRecursive, which those
// kinds do not carry.
func runsInMulti(op *Command) bool {
	switch op.Op {
	case OpCreate, OpDelete:
		return true
	case OpSetData, OpCheck:
		return !op.has(FlagParents | FlagRecursive)
	}
	return false
}

// ErrCorrupt is returned for bytes that are not a command's encoding.
var ErrCorrupt = errors.New("fsm: corrupt command encoding")

// ErrUnknownVersion is returned for an entry of a command type, or of a
// payload version, that a later Canopy wrote and this one cannot read. It
// is never ErrCorrupt.
var ErrUnknownVersion = errors.New("fsm: unknown command version")

// Decode reads a command encoded by Encode, by this version or any earlier
// one. It never panics, whatever the input: bad input is ErrCorrupt, and an
// entry from a later version is ErrUnknownVersion. One command has one
// encoding: a command decoded from the per-kind layout encodes back to the
// same bytes.
func Decode(data []byte) (*Command, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	switch t := data[0]; {
	case t == legacyFormat:
		return decodeLegacy(data[1:])
	case t == 0:
		return nil, fmt.Errorf("%w: no command type", ErrCorrupt)
	case t&typeFlag == 0:
		// No layout but the legacy one starts so: a later version adds
		// versions of kinds, never another entry format.
		return nil, fmt.Errorf("%w: first byte %#x is neither a command type nor the legacy layout", ErrCorrupt, t)
	}
	d := decoder{b: data}
	c := new(Command)
	d.command(c)
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return c, nil
}

type decoder struct {
	b     []byte
	err   error
	depth int // of the command being read: 0 at the top, 1 in a multi
}

func (d *decoder) fail(what string) {
	d.failWith(fmt.Errorf("%w: %s", ErrCorrupt, what))
}

func (d *decoder) failWith(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

// command reads one entry in the per-kind layout: type, version, payload.
func (d *decoder) command(c *Command) {
	t := d.byte()
	if d.err != nil {
		return
	}
	if t&typeFlag == 0 {
		d.fail("not a command type")
		return
	}
	c.Op = Op(t &^ typeFlag)
	v := d.byte()
	known := latest(c.Op)
	switch {
	case d.err != nil:
	case known == 0:
		d.failWith(fmt.Errorf("%w: command type %d", ErrUnknownVersion, c.Op))
	case v == 0:
		d.fail("payload version 0")
	case v > known:
		d.failWith(fmt.Errorf("%w: %s payload version %d (this version reads up to %d)", ErrUnknownVersion, c.Op, v, known))
	default:
		d.payload(c, v)
	}
}
