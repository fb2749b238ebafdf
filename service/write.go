package service

import (
	"context"
	"encoding/base64"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// CreateRequest creates a node. Session owns an ephemeral (the caller's
// session: a header, an attached socket, a ZooKeeper connection).
type CreateRequest struct {
	Path       string
	Data       []byte
	Ephemeral  bool
	Sequential bool
	Container  bool
	Parents    bool   // create missing ancestors as persistent nodes
	TTLms      *int64 // a TTL node; nil for none
	Session    api.ID
	// ACL is the node's; nil is the server's default (DESIGN §9).
	ACL []api.ACL
}

// SetDataRequest replaces a node's data; Version nil (or -1) matches any.
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version *int64
}

// DeleteRequest deletes a node, or with Recursive its whole subtree.
type DeleteRequest struct {
	Path      string
	Version   *int64
	Recursive bool
}

// Create makes a node and returns its actual path (a sequential name has
// its suffix) and stat.
func (s *Service) Create(ctx context.Context, req CreateRequest) (api.PathStat, int64, error) {
	cmd, err := s.createCommand(ctx, req)
	if err != nil {
		return api.PathStat{}, s.node.Applied(), err
	}
	return s.proposeNode(ctx, &cmd)
}

// SetData replaces a node's data.
func (s *Service) SetData(ctx context.Context, req SetDataRequest) (api.PathStat, int64, error) {
	cmd, err := s.setCommand(req)
	if err != nil {
		return api.PathStat{}, s.node.Applied(), err
	}
	return s.proposeNode(ctx, &cmd)
}

// Delete removes a node (or a subtree); it returns the zxid of the delete.
func (s *Service) Delete(ctx context.Context, req DeleteRequest) (int64, error) {
	cmd, err := s.deleteCommand(req)
	if err != nil {
		return s.node.Applied(), err
	}
	_, zxid, err := s.propose(ctx, &cmd)
	return zxid, err
}

func (s *Service) proposeNode(ctx context.Context, cmd *fsm.Command) (api.PathStat, int64, error) {
	res, zxid, err := s.propose(ctx, cmd)
	if err != nil {
		return api.PathStat{}, zxid, err
	}
	return api.PathStat{Path: res.Path, Stat: *res.Stat}, zxid, nil
}

// createCommand refuses early what the state machine would refuse for
// the request's shape alone, so bad input never costs a raft entry.
func (s *Service) createCommand(ctx context.Context, req CreateRequest) (fsm.Command, error) {
	c := fsm.Command{Op: fsm.OpCreate, Path: req.Path, Data: req.Data, Version: fsm.AnyVersion, Session: req.Session}
	var err error
	if c.ACL, err = s.createACL(ctx, req.Path, req.ACL); err != nil {
		return c, err
	}
	if req.Ephemeral {
		c.Flags |= fsm.FlagEphemeral
	}
	if req.Sequential {
		c.Flags |= fsm.FlagSequential
	}
	if req.Container {
		c.Flags |= fsm.FlagContainer
	}
	if req.Parents {
		c.Flags |= fsm.FlagParents
	}
	if req.TTLms != nil {
		if *req.TTLms < 1 || *req.TTLms > fsm.MaxTTL {
			return c, api.BadArguments(req.Path, "ttl_ms must be an integer from 1 to %d, got %d", int64(fsm.MaxTTL), *req.TTLms)
		}
		c.TTL = *req.TTLms
	}
	// The path is checked as it will be: a sequential name with its
	// %010d suffix (so "/q/" is a valid prefix), and within the limit
	// that every later request to it must meet.
	n := len(req.Path)
	if req.Sequential {
		n += 10
	}
	if n > s.limits.MaxPathBytes {
		return c, api.BadArguments(clip(req.Path), "path is %d bytes, over the limit of %d", n, s.limits.MaxPathBytes)
	}
	if err := s.checkData(req.Path, req.Data); err != nil {
		return c, err
	}
	if err := s.checkTreeBytes(req.Path, len(req.Data)); err != nil {
		return c, err
	}
	if req.Ephemeral {
		if err := s.checkEphemeral(req.Path, req.Session); err != nil {
			return c, err
		}
	}
	return c, fsm.CheckRequest(&c)
}

func (s *Service) setCommand(req SetDataRequest) (fsm.Command, error) {
	c := fsm.Command{Op: fsm.OpSetData, Path: req.Path, Data: req.Data}
	var err error
	if c.Version, err = version(req.Path, req.Version); err != nil {
		return c, err
	}
	if err := s.CheckPath(req.Path); err != nil {
		return c, err
	}
	if err := s.checkData(req.Path, req.Data); err != nil {
		return c, err
	}
	return c, s.checkTreeBytes(req.Path, len(req.Data))
}

func (s *Service) deleteCommand(req DeleteRequest) (fsm.Command, error) {
	c := fsm.Command{Op: fsm.OpDelete, Path: req.Path}
	if req.Recursive {
		c.Flags |= fsm.FlagRecursive
	}
	var err error
	if c.Version, err = version(req.Path, req.Version); err != nil {
		return c, err
	}
	return c, s.CheckPath(req.Path)
}

func (s *Service) checkCommand(path string, v *int64) (fsm.Command, error) {
	c := fsm.Command{Op: fsm.OpCheck, Path: path}
	var err error
	if c.Version, err = version(path, v); err != nil {
		return c, err
	}
	return c, s.CheckPath(path)
}

func (s *Service) checkData(path string, data []byte) error {
	if int64(len(data)) > s.limits.MaxDataBytes {
		return api.TooLarge(path, "data is over the limit of %d bytes", s.limits.MaxDataBytes)
	}
	return nil
}

// version reads a version precondition: nil or -1 matches any; otherwise
// it must fit ZooKeeper's int32.
func version(path string, v *int64) (int32, error) {
	if v == nil {
		return fsm.AnyVersion, nil
	}
	if *v < -1<<31 || *v > 1<<31-1 {
		return 0, api.BadArguments(path, "version must be a 32-bit integer, got %d", *v)
	}
	return int32(*v), nil
}

// DecodeData reads node data as JSON clients send it: UTF-8 text, or
// base64 with encoding "base64".
func DecodeData(path, data, encoding string) ([]byte, error) {
	b64, err := Encoding(encoding)
	if err != nil {
		return nil, api.BadArguments(path, "%s", err.(*api.Error).Message)
	}
	if !b64 {
		return []byte(data), nil
	}
	out, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, api.BadArguments(path, "data is not valid base64: %v", err)
	}
	return out, nil
}
