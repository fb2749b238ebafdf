package service

import (
	"context"
	"io"

	"github.com/canopy-coord/canopy/api"
)

// Cluster describes the cluster as this node sees it.
func (s *Service) Cluster() (api.Cluster, error) { return s.node.Cluster() }

// AddMember adds a node to the cluster, through the leader.
func (s *Service) AddMember(ctx context.Context, m api.MemberRequest) error {
	if err := s.Admin(ctx); err != nil {
		return err
	}
	if m.ID == "" || m.Raft == "" {
		return api.BadArguments("", `a member needs "id" and "raft" (and "http", its API address)`)
	}
	return s.node.AddMember(ctx, m)
}

// RemoveMember removes a node from the cluster, through the leader.
func (s *Service) RemoveMember(ctx context.Context, id string) error {
	if err := s.Admin(ctx); err != nil {
		return err
	}
	if id == "" {
		return api.BadArguments("", "name the member to remove")
	}
	return s.node.RemoveMember(ctx, id)
}

// Backup writes a consistent snapshot of the tree holding every write
// acknowledged before the call; start runs, with the zxid the backup
// reflects, before the first byte is written.
func (s *Service) Backup(ctx context.Context, w io.Writer, start func(zxid int64)) error {
	if err := s.Admin(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.limits.ReadTimeout)
	defer cancel()
	if err := s.node.Linearize(ctx); err != nil {
		return err
	}
	start(s.node.Applied())
	_, err := s.node.WriteBackup(w)
	return err
}

// Restore replaces the whole cluster's state with a backup of size bytes.
func (s *Service) Restore(ctx context.Context, r io.Reader, size int64) error {
	if err := s.Admin(ctx); err != nil {
		return err
	}
	if size <= 0 {
		return api.BadArguments("", "send the backup with its length (Content-Length)")
	}
	return s.node.RestoreBackup(ctx, r, size)
}
