package fsm

import (
	"github.com/canopy-coord/canopy/api"
)

// CheckRequest refuses a node command that Apply would refuse for its shape
// alone: a bad path, bad create flags, an ephemeral without a session.
func CheckRequest(c *Command) error {
	if c.Op != OpCreate {
		return ValidatePath(c.Path)
	}
	if err := validateCreateFlags(c); err != nil {
		return err
	}
	if c.has(FlagEphemeral) && c.Session == 0 {
		return api.Errorf(api.CodeBadArguments, c.Path, "an ephemeral node needs a session: send the Canopy-Session header, or attach one to the WebSocket")
	}
	p := c.Path
	if c.has(FlagSequential) {
		p += "0" // the name is validated with its suffix: "/q/" is a valid prefix
	}
	return ValidatePath(p)
}
