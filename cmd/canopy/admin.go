package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
)

// The operator's verbs: cluster membership and backups.

func clusterStatusVerb() *verb {
	return &verb{name: "cluster status", summary: "show the cluster's leader and members", max: 0,
		details: `Shows the cluster as the answering node sees it: itself, the leader, the
raft term and indexes, and each member with its role and addresses. In
JSON: the API's GET /v1/cluster object.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				var cl api.Cluster
				err := e.oneCall(ctx, "cluster status", func(ctx context.Context, c *client.Client) (err error) {
					cl, err = c.Cluster(ctx)
					return err
				})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(cl)
				}
				leader := "(none: election in progress)"
				if cl.Leader != nil {
					leader = cl.Leader.ID
				}
				e.printf("self %s, leader %s, term %d, commit %d, applied %d\n", cl.Self, leader, cl.Term, cl.CommitIndex, cl.AppliedIndex)
				for _, m := range cl.Members {
					role := "voter"
					if !m.Voter {
						role = "nonvoter"
					}
					e.printf("  %-10s %-8s raft %-21s http %s\n", m.ID, role, m.Raft, m.HTTP)
				}
				return nil
			}
		}}
}

// memberResult is the JSON of cluster add and remove.
type memberResult struct {
	Added   string `json:"added,omitempty"`
	Removed string `json:"removed,omitempty"`
}

func clusterAddVerb() *verb {
	return &verb{name: "cluster add", args: "[--nonvoter] ID RAFTADDR HTTPADDR", summary: "add a node to the cluster", min: 3, max: 3,
		details: `Adds the node ID, reachable by its peers at RAFTADDR and by clients at
HTTPADDR, as a voter (or, with --nonvoter, as a member that replicates
without voting). Start the node with --join instead to have it add itself.
In JSON: {"added":ID}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			nonvoter := fs.Bool("nonvoter", false, "a member that replicates but does not vote")
			return func(ctx context.Context, e *env, args []string) error {
				err := e.oneCall(ctx, "cluster add "+args[0], func(ctx context.Context, c *client.Client) error {
					return c.AddMember(ctx, api.MemberRequest{ID: args[0], Raft: args[1], HTTP: args[2], Voter: !*nonvoter})
				})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(memberResult{Added: args[0]})
				}
				e.printf("added %s\n", args[0])
				return nil
			}
		}}
}

func clusterRemoveVerb() *verb {
	return &verb{name: "cluster remove", args: "ID", summary: "remove a node from the cluster", min: 1, max: 1,
		details: `Removes the node ID from the cluster (the leader included: another is
elected). In JSON: {"removed":ID}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				err := e.oneCall(ctx, "cluster remove "+args[0], func(ctx context.Context, c *client.Client) error {
					return c.RemoveMember(ctx, args[0])
				})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(memberResult{Removed: args[0]})
				}
				e.printf("removed %s\n", args[0])
				return nil
			}
		}}
}

// backupTimeout is the default --timeout of snapshot save and restore:
// a backup is as large as the tree.
const backupTimeout = 10 * time.Minute

// snapshotResult is the JSON of snapshot save and restore.
type snapshotResult struct {
	File  string `json:"file"`
	Bytes int64  `json:"bytes"`
	Zxid  int64  `json:"zxid,omitempty"`
}

func snapshotSaveVerb() *verb {
	return &verb{name: "snapshot save", args: "FILE", summary: "back up the tree, sessions included, into FILE", min: 1, max: 1,
		timeout: backupTimeout,
		details: `Downloads a consistent backup of the whole state (tree and sessions) and
writes it to FILE atomically (a temporary file renamed into place).
--timeout defaults to 10m here. In JSON: {"file","bytes","zxid"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				file, op := args[0], "snapshot save "+args[0]
				tmp, err := os.CreateTemp(filepath.Dir(file), ".canopy-snapshot-*")
				if err != nil {
					return fmt.Errorf("%s: %w", op, err)
				}
				defer os.Remove(tmp.Name())
				cctx, cancel := e.call(ctx)
				defer cancel()
				zxid, err := c.Backup(cctx, tmp)
				if err != nil {
					tmp.Close()
					return e.fail(op, err)
				}
				err = tmp.Sync()
				if cerr := tmp.Close(); err == nil {
					err = cerr
				}
				var size int64
				if err == nil {
					var fi os.FileInfo
					if fi, err = os.Stat(tmp.Name()); err == nil {
						size = fi.Size()
						err = os.Rename(tmp.Name(), file)
					}
				}
				if err != nil {
					return fmt.Errorf("%s: %w", op, err)
				}
				if e.json {
					return e.printJSON(snapshotResult{File: file, Bytes: size, Zxid: zxid})
				}
				e.printf("saved %s: %d bytes at zxid %d\n", file, size, zxid)
				return nil
			}
		}}
}

func snapshotRestoreVerb() *verb {
	return &verb{name: "snapshot restore", args: "FILE", summary: "replace the cluster's whole state with a backup", min: 1, max: 1,
		timeout: backupTimeout,
		details: `Uploads a backup made by 'canopy snapshot save' to the cluster's leader,
which replaces the whole state with it: nodes not in the backup are gone,
its sessions are back. --timeout defaults to 10m here. In JSON: {"file","bytes"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				file, op := args[0], "snapshot restore "+args[0]
				data, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("%s: %w", op, err)
				}
				cctx, cancel := e.call(ctx)
				defer cancel()
				if err := restore(cctx, c, data); err != nil {
					return e.fail(op, err)
				}
				if e.json {
					return e.printJSON(snapshotResult{File: file, Bytes: int64(len(data))})
				}
				e.printf("restored %s into the cluster\n", file)
				return nil
			}
		}}
}

// restore uploads a backup through the leader. A cluster that has just
// started may not know its leader's address yet (Unavailable, before any
// upload): that is tried again until ctx ends.
func restore(ctx context.Context, c *client.Client, data []byte) error {
	backoff := 50 * time.Millisecond
	for {
		err := c.Restore(ctx, data)
		if !errors.Is(err, client.ErrUnavailable) {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}
