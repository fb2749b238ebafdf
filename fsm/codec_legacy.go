package fsm

import (
	"encoding/binary"
	"fmt"

	"github.com/canopy-coord/canopy/api"
)

// The legacy layout, which every kind shared until each got its own
// payload: a byte 0x01, then every field of Command in a fixed order,
// whatever the op, nested ops the same way:
//
//	op time session identity path data version flags ttl timeout ops [raftAddr httpAddr]
//
// It was written in two shapes, which nothing in the entry tells apart:
// with the member addresses at the end of every command (and of every
// nested op), and, before members were replicated, without them. Decode
// tries the shape with them first, then the one without; each must
// consume the whole entry. The fields the command's kind does not carry
// are then dropped, so that the result is the command the per-kind layout
// would give.
//
// Encode writes this layout only for a command the per-kind layout cannot
// carry (none is ever proposed; Apply refuses it, by fields only this
// layout carries): so that the codec has an encoding for every Command,
// and Apply answers the decoded command as it would the original.
const legacyFormat = 0x01

func decodeLegacy(data []byte) (*Command, error) {
	c, err := decodeLegacyShape(data, true)
	if err != nil {
		var err2 error
		if c, err2 = decodeLegacyShape(data, false); err2 != nil {
			return nil, fmt.Errorf("%w (legacy entry; without member fields: %v)", err, err2)
		}
	}
	// The kind's fields only: the command decodes as its per-kind
	// encoding does. One that layout cannot carry stays whole.
	if enc, ok := c.appendTo(nil); ok {
		d := decoder{b: enc}
		c = new(Command)
		if d.command(c); d.err != nil {
			return nil, d.err
		}
	}
	return c, nil
}

func decodeLegacyShape(data []byte, members bool) (*Command, error) {
	d := decoder{b: data}
	c := new(Command)
	d.legacyCommand(c, members)
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return c, nil
}

func (d *decoder) legacyCommand(c *Command, members bool) {
	c.Op = Op(d.byte())
	c.Time = d.varint()
	c.Session = api.ID(d.uvarint())
	c.Identity = d.strings()
	c.Path = d.string()
	c.Data = d.data()
	c.Version = d.version()
	c.Flags = Flags(d.byte())
	c.TTL = d.varint()
	c.Timeout = d.varint()
	if n := d.count(); n > 0 {
		if d.depth+1 >= maxNesting {
			d.fail("multi nested too deep")
			return
		}
		c.Ops = make([]Command, n)
		d.depth++
		for i := range c.Ops {
			d.legacyCommand(&c.Ops[i], members)
		}
		d.depth--
	}
	if members {
		c.RaftAddr = d.string()
		c.HTTPAddr = d.string()
	}
}

// appendLegacy appends c in the legacy layout, with the member fields.
func appendLegacy(b []byte, c *Command) []byte {
	b = append(b, legacyFormat)
	return c.appendLegacyFields(b)
}

func (c *Command) appendLegacyFields(b []byte) []byte {
	b = append(b, byte(c.Op))
	b = binary.AppendVarint(b, c.Time)
	b = binary.AppendUvarint(b, uint64(c.Session))
	b = appendStrings(b, c.Identity)
	b = appendString(b, c.Path)
	b = appendBytes(b, c.Data)
	b = binary.AppendVarint(b, int64(c.Version))
	b = append(b, byte(c.Flags))
	b = binary.AppendVarint(b, c.TTL)
	b = binary.AppendVarint(b, c.Timeout)
	b = binary.AppendUvarint(b, uint64(len(c.Ops)))
	for i := range c.Ops {
		b = c.Ops[i].appendLegacyFields(b)
	}
	b = appendString(b, c.RaftAddr)
	return appendString(b, c.HTTPAddr)
}
