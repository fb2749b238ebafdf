package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/canopy-coord/canopy/api"
)

// The encoding of a command: a version byte, then the fields in order, each
// integer as a varint and each string or byte slice length-prefixed. It is
// what goes into the raft log, so it must stay readable by every later
// version: new fields are appended, never reordered.
const codecVersion = 1

// maxNesting bounds multi inside multi; only one level is ever proposed.
const maxNesting = 2

// Encode appends the encoding of c to buf.
func (c *Command) Encode(buf []byte) []byte {
	buf = append(buf, codecVersion)
	return c.encode(buf)
}

func (c *Command) encode(b []byte) []byte {
	b = append(b, byte(c.Op))
	b = binary.AppendVarint(b, c.Time)
	b = binary.AppendUvarint(b, uint64(c.Session))
	b = binary.AppendUvarint(b, uint64(len(c.Identity)))
	for _, id := range c.Identity {
		b = appendString(b, id)
	}
	b = appendString(b, c.Path)
	b = binary.AppendUvarint(b, uint64(len(c.Data)))
	b = append(b, c.Data...)
	b = binary.AppendVarint(b, int64(c.Version))
	b = append(b, byte(c.Flags))
	b = binary.AppendVarint(b, c.TTL)
	b = binary.AppendVarint(b, c.Timeout)
	b = binary.AppendUvarint(b, uint64(len(c.Ops)))
	for i := range c.Ops {
		b = c.Ops[i].encode(b)
	}
	b = appendString(b, c.RaftAddr)
	return appendString(b, c.HTTPAddr)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ErrCorrupt is returned for bytes that are not a command's encoding.
var ErrCorrupt = errors.New("fsm: corrupt command encoding")

// Decode reads a command encoded by Encode. It never panics, whatever the
// input; bad input is ErrCorrupt.
func Decode(data []byte) (*Command, error) {
	if len(data) == 0 || data[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown version", ErrCorrupt)
	}
	d := decoder{b: data[1:]}
	c := new(Command)
	d.command(c, 0)
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return c, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	d.b = nil
}

// Varints must be minimal: one command has exactly one encoding, so a
// decoded entry always re-encodes to the bytes raft stored.
func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 || n != varintLen(v) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("short")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("length past the end")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// count reads a length that announces items of at least one byte each, so
// a forged count cannot make us allocate more than the input could hold.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("count past the end")
		return 0
	}
	return int(n)
}

func (d *decoder) command(c *Command, depth int) {
	c.Op = Op(d.byte())
	c.Time = d.varint()
	c.Session = api.ID(d.uvarint())
	if n := d.count(); n > 0 {
		c.Identity = make([]string, n)
		for i := range c.Identity {
			c.Identity[i] = string(d.bytes())
		}
	}
	c.Path = string(d.bytes())
	if data := d.bytes(); len(data) > 0 {
		c.Data = append([]byte(nil), data...)
	}
	v := d.varint()
	if v < -1<<31 || v > 1<<31-1 {
		d.fail("version out of range")
	}
	c.Version = int32(v)
	c.Flags = Flags(d.byte())
	c.TTL = d.varint()
	c.Timeout = d.varint()
	if n := d.count(); n > 0 {
		if depth+1 >= maxNesting {
			d.fail("multi nested too deep")
			return
		}
		c.Ops = make([]Command, n)
		for i := range c.Ops {
			d.command(&c.Ops[i], depth+1)
		}
	}
	c.RaftAddr = string(d.bytes())
	c.HTTPAddr = string(d.bytes())
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}
