package fsm

import (
	"encoding/binary"

	"github.com/canopy-coord/canopy/api"
)

// The codec's primitives, for both layouts: varints, length-prefixed
// strings and bytes, counts.

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
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

// version reads a version precondition, an int32.
func (d *decoder) version() int32 {
	v := d.varint()
	if v < -1<<31 || v > 1<<31-1 {
		d.fail("version out of range")
		return 0
	}
	return int32(v)
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

// bytes returns the next length-prefixed bytes, still in the input.
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

func (d *decoder) string() string { return string(d.bytes()) }

// data returns a copy of the next bytes; nil when empty.
func (d *decoder) data() []byte {
	if b := d.bytes(); len(b) > 0 {
		return append([]byte(nil), b...)
	}
	return nil
}

// strings reads a list of strings; nil when empty.
func (d *decoder) strings() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
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

func appendACL(b []byte, list []api.ACL) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, a := range list {
		b = appendString(b, a.Scheme)
		b = appendString(b, a.ID)
		b = binary.AppendUvarint(b, uint64(a.Perms))
	}
	return b
}

func (d *decoder) acl() []api.ACL {
	n := d.count()
	if n == 0 {
		return nil
	}
	list := make([]api.ACL, n)
	for i := range list {
		list[i].Scheme = d.string()
		list[i].ID = d.string()
		p := d.uvarint()
		if p > uint64(api.PermAll) {
			d.fail("perms past cdrwa")
			return nil
		}
		list[i].Perms = api.Perms(p)
	}
	return list
}
