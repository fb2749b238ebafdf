package api

import (
	"fmt"
	"strconv"
	"strings"
)

// ID is a 64-bit identifier (a session id, an ephemeral owner). On the wire it
// is a hex string such as "0x1f3a": JavaScript numbers cannot hold 64 bits.
type ID uint64

func (id ID) String() string { return "0x" + strconv.FormatUint(uint64(id), 16) }

// ParseID reads "0x1f3a" (the 0x prefix is optional, case does not matter).
func ParseID(s string) (ID, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if h == "" || len(h) > 16 {
		return 0, fmt.Errorf("id %q: want up to 16 hex digits, like 0x1f3a", s)
	}
	v, err := strconv.ParseUint(h, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("id %q: want up to 16 hex digits, like 0x1f3a", s)
	}
	return ID(v), nil
}

func (id ID) MarshalJSON() ([]byte, error) {
	return []byte(`"` + id.String() + `"`), nil
}

func (id *ID) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("id: want a hex string like \"0x1f3a\"")
	}
	v, err := ParseID(s)
	if err != nil {
		return err
	}
	*id = v
	return nil
}
