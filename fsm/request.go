package fsm

import (
	"encoding/base64"

	"github.com/canopy-coord/canopy/api"
)

var opsByName = map[string]Op{
	"create": OpCreate, "set": OpSetData, "delete": OpDelete, "check": OpCheck,
}

// CommandFromOp builds the command for one create, set, delete or check as
// clients send it (a multi op over REST, an op frame over WebSocket), and
// refuses early, with the error Apply would give, what can never succeed:
// so that bad input never costs a raft entry.
func CommandFromOp(op api.MultiOp, session api.ID, maxData int64) (Command, *api.Error) {
	kind, ok := opsByName[op.Op]
	if !ok {
		return Command{}, api.Errorf(api.CodeBadArguments, op.Path, `op must be "check", "create", "set" or "delete", got %q`, op.Op)
	}
	c := Command{Op: kind, Path: op.Path, Version: AnyVersion, Session: session, TTL: op.TTLms}
	if op.Version != nil {
		if *op.Version < -1<<31 || *op.Version > 1<<31-1 {
			return c, api.Errorf(api.CodeBadArguments, op.Path, "version must be a 32-bit integer, got %d", *op.Version)
		}
		c.Version = int32(*op.Version)
	}
	switch op.Encoding {
	case "", "utf8":
		c.Data = []byte(op.Data)
	case "base64":
		data, err := base64.StdEncoding.DecodeString(op.Data)
		if err != nil {
			return c, api.Errorf(api.CodeBadArguments, op.Path, "data is not valid base64: %v", err)
		}
		c.Data = data
	default:
		return c, api.Errorf(api.CodeBadArguments, op.Path, `encoding must be "utf8" or "base64", got %q`, op.Encoding)
	}
	if int64(len(c.Data)) > maxData {
		return c, api.Errorf(api.CodeTooLarge, op.Path, "data is over the limit of %d bytes", maxData)
	}
	if op.Ephemeral {
		c.Flags |= FlagEphemeral
	}
	if op.Sequential {
		c.Flags |= FlagSequential
	}
	if op.Container {
		c.Flags |= FlagContainer
	}
	if kind != OpCreate && (c.Flags != 0 || c.TTL != 0) {
		return c, api.Errorf(api.CodeBadArguments, op.Path, "ephemeral, sequential, container and ttl_ms apply to create only")
	}
	return c, CheckRequest(&c)
}

// CheckRequest refuses a node command that Apply would refuse for its shape
// alone: a bad path, bad create flags, an ephemeral without a session.
func CheckRequest(c *Command) *api.Error {
	if c.Op != OpCreate {
		if err := ValidatePath(c.Path); err != nil {
			return err.(*api.Error)
		}
		return nil
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
	if err := ValidatePath(p); err != nil {
		return err.(*api.Error)
	}
	return nil
}
