package fsm

import (
	"encoding/binary"

	"github.com/canopy-coord/canopy/api"
)

// The layouts of the kinds' payloads (the table in codec.go): the encoder
// of each kind's latest version, and the reader of every version.

// payload reads version v (1 to latest) of c's kind. A new version is a new
// reader beside the old ones: case OpCreate: if v == 1 {...} else {...}.
func (d *decoder) payload(c *Command, v byte) {
	switch c.Op {
	case OpCreate:
		d.createV1(c)
		if v >= 2 {
			c.ACL = d.acl()
		}
	case OpSetData:
		d.setDataV1(c)
	case OpDelete:
		d.deleteV1(c)
	case OpCheck:
		d.checkV1(c)
	case OpMulti:
		d.multiV1(c)
	case OpCreateSession:
		d.createSessionV1(c)
	case OpCloseSession, OpExpireSession:
		d.sessionV1(c)
		if v >= 2 {
			c.Identity = d.strings()
		}
	case OpReap:
		d.reapV1(c)
	case OpBarrier:
	case OpSetMember:
		d.setMemberV1(c)
	case OpRemoveMember:
		d.removeMemberV1(c)
	case OpSetACL:
		d.setACLV1(c)
	}
}

// appendTo appends c in the per-kind layout; false if that layout cannot
// carry it (see Encode).
func (c *Command) appendTo(b []byte) ([]byte, bool) {
	v := latest(c.Op)
	if v == 0 {
		return b, false
	}
	b = append(b, typeFlag|byte(c.Op), v)
	switch c.Op {
	case OpCreate:
		b = binary.AppendVarint(b, c.Time)
		b = binary.AppendUvarint(b, uint64(c.Session))
		b = appendStrings(b, c.Identity)
		b = appendString(b, c.Path)
		b = appendBytes(b, c.Data)
		b = append(b, byte(c.Flags))
		b = binary.AppendVarint(b, c.TTL)
		b = appendACL(b, c.ACL)
	case OpSetData:
		b = binary.AppendVarint(b, c.Time)
		b = appendStrings(b, c.Identity)
		b = appendString(b, c.Path)
		b = appendBytes(b, c.Data)
		b = binary.AppendVarint(b, int64(c.Version))
	case OpDelete:
		b = appendStrings(b, c.Identity)
		b = appendString(b, c.Path)
		b = binary.AppendVarint(b, int64(c.Version))
		b = append(b, byte(c.Flags))
	case OpCheck:
		b = appendStrings(b, c.Identity)
		b = appendString(b, c.Path)
		b = binary.AppendVarint(b, int64(c.Version))
	case OpMulti:
		b = binary.AppendVarint(b, c.Time)
		b = appendStrings(b, c.Identity)
		b = binary.AppendUvarint(b, uint64(len(c.Ops)))
		for i := range c.Ops {
			var ok bool
			if !runsInMulti(&c.Ops[i]) {
				return b, false
			}
			if b, ok = c.Ops[i].appendTo(b); !ok {
				return b, false
			}
		}
	case OpCreateSession:
		b = binary.AppendUvarint(b, uint64(c.Session))
		b = binary.AppendVarint(b, c.Timeout)
		b = appendStrings(b, c.Identity)
	case OpCloseSession:
		b = binary.AppendUvarint(b, uint64(c.Session))
		b = appendStrings(b, c.Identity)
	case OpExpireSession:
		b = binary.AppendUvarint(b, uint64(c.Session))
	case OpReap:
		b = binary.AppendVarint(b, c.Time)
		b = appendString(b, c.Path)
	case OpBarrier:
	case OpSetMember:
		b = appendString(b, c.Path)
		b = appendString(b, c.RaftAddr)
		b = appendString(b, c.HTTPAddr)
	case OpRemoveMember:
		b = appendString(b, c.Path)
	case OpSetACL:
		b = appendStrings(b, c.Identity)
		b = appendString(b, c.Path)
		b = appendACL(b, c.ACL)
		b = binary.AppendVarint(b, int64(c.Version))
	}
	return b, true
}

func (d *decoder) createV1(c *Command) {
	c.Time = d.varint()
	c.Session = api.ID(d.uvarint())
	c.Identity = d.strings()
	c.Path = d.string()
	c.Data = d.data()
	c.Flags = Flags(d.byte())
	c.TTL = d.varint()
}

func (d *decoder) setDataV1(c *Command) {
	c.Time = d.varint()
	c.Identity = d.strings()
	c.Path = d.string()
	c.Data = d.data()
	c.Version = d.version()
}

func (d *decoder) deleteV1(c *Command) {
	c.Identity = d.strings()
	c.Path = d.string()
	c.Version = d.version()
	c.Flags = Flags(d.byte())
}

func (d *decoder) checkV1(c *Command) {
	c.Identity = d.strings()
	c.Path = d.string()
	c.Version = d.version()
}

func (d *decoder) multiV1(c *Command) {
	c.Time = d.varint()
	c.Identity = d.strings()
	n := d.count()
	if n == 0 {
		return
	}
	if d.depth+1 >= maxNesting {
		d.fail("multi nested too deep")
		return
	}
	c.Ops = make([]Command, n)
	d.depth++
	for i := range c.Ops {
		if d.command(&c.Ops[i]); d.err == nil && !runsInMulti(&c.Ops[i]) {
			d.fail("an op a multi does not run") // Encode writes such a multi in the legacy layout
		}
	}
	d.depth--
}

func (d *decoder) createSessionV1(c *Command) {
	c.Session = api.ID(d.uvarint())
	c.Timeout = d.varint()
	c.Identity = d.strings()
}

func (d *decoder) sessionV1(c *Command) {
	c.Session = api.ID(d.uvarint())
}

func (d *decoder) reapV1(c *Command) {
	c.Time = d.varint()
	c.Path = d.string()
}

func (d *decoder) setMemberV1(c *Command) {
	c.Path = d.string()
	c.RaftAddr = d.string()
	c.HTTPAddr = d.string()
}

func (d *decoder) removeMemberV1(c *Command) {
	c.Path = d.string()
}

func (d *decoder) setACLV1(c *Command) {
	c.Identity = d.strings()
	c.Path = d.string()
	c.ACL = d.acl()
	c.Version = d.version()
}
