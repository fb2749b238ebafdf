package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
)

// The zkCli verbs that write: create, set, delete, deleteall.

// readData reads the data argument of create and set: DATA itself, "-"
// for stdin, or the file of -f; none is empty data.
func (e *env) readData(args []string, file string) ([]byte, error) {
	switch {
	case file != "" && len(args) > 0:
		return nil, e.usage("give the data as an argument or with -f, not both")
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading the data: %w", err)
		}
		return data, nil
	case len(args) == 0:
		return nil, nil
	case args[0] == "-":
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return nil, fmt.Errorf("reading the data from stdin: %w", err)
		}
		return data, nil
	}
	return []byte(args[0]), nil
}

// ttlFlag is -t: a duration ("30s"), or a bare number of milliseconds as
// zkCli takes it.
type ttlFlag struct{ d time.Duration }

func (t *ttlFlag) String() string { return t.d.String() }
func (t *ttlFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if ms, merr := strconv.ParseInt(s, 10, 64); merr == nil {
		d, err = time.Duration(ms)*time.Millisecond, nil
	}
	if err != nil || d <= 0 {
		return errors.New("want a positive duration like 30s, or milliseconds")
	}
	t.d = d
	return nil
}

func createVerb() *verb {
	return &verb{name: "create", args: "[-e] [-s] [-c] [-t TTL] [-p] [--acl ACL[,ACL...]] [--session ID] PATH [DATA | - | -f FILE]", summary: "create a node",
		min: 1, max: 2,
		details: `Creates PATH with the data given as an argument, read from stdin ("-"),
or from a file (-f); with none, the data is empty. Prints the created path
(with its sequence number under -s).

An ephemeral node (-e) lives as long as its session:
  - with --session ID, it joins that existing session (opened by 'canopy
    session open' or a program) and the command returns at once;
  - without, the command opens a session of its own, creates the node, and
    stays running to keep the session alive: the node exists until the
    command is interrupted (Ctrl-C, SIGTERM), which closes the session and
    deletes the node. If the session is lost, the command fails (exit 7).

With --acl, the node gets that ACL, in zkCli's syntax (see 'canopy help
setacl'); without, the server's default: world:anyone:cdrwa, or all
perms for the creator's identities on a server that requires
authentication. Missing parents made by -p get the default.

In JSON: the API's {"path","stat"}, with "session" for -e.`,
		setup: func(fs *flag.FlagSet) runFunc {
			eph := fs.Bool("e", false, "ephemeral: deleted when its session ends (see above)")
			seq := fs.Bool("s", false, "sequential: append a 10-digit counter to the name")
			cont := fs.Bool("c", false, "container: deleted by the server once its last child goes")
			var ttl ttlFlag
			fs.Var(&ttl, "t", "`TTL` node: deleted once it has had no change and no children this long (30s, or milliseconds)")
			parents := fs.Bool("p", false, "create missing parents (persistent, empty)")
			file := fs.String("f", "", "read the data from this `FILE`")
			session := fs.String("session", "", "with -e: the existing session (0x...) to create the node in, by its `ID`")
			var acl aclFlag
			fs.Var(&acl, "acl", "the node's `ACL`, zkCli's scheme:id:perms, comma-separated (default: the server's)")
			return func(ctx context.Context, e *env, args []string) error {
				data, err := e.readData(args[1:], *file)
				if err != nil {
					return err
				}
				if *session != "" && !*eph {
					return e.usage("--session goes with -e")
				}
				p := args[0]
				opts := &client.CreateOptions{Ephemeral: *eph, Sequential: *seq, Container: *cont, TTL: ttl.d, Parents: *parents, ACL: acl.acl}
				if *eph {
					return e.createEphemeral(ctx, p, data, opts, *session)
				}
				var actual string
				var stat client.Stat
				err = e.oneCall(ctx, "create "+p, func(ctx context.Context, c *client.Client) (err error) {
					actual, stat, err = c.Create(ctx, p, data, opts)
					return err
				})
				if err != nil {
					return err
				}
				return e.printCreated(actual, stat, 0)
			}
		}}
}

func (e *env) printCreated(p string, stat client.Stat, session client.ID) error {
	if e.json {
		out := struct {
			Path    string      `json:"path"`
			Stat    client.Stat `json:"stat"`
			Session *client.ID  `json:"session,omitempty"`
		}{Path: p, Stat: stat}
		if session != 0 {
			out.Session = &session
		}
		return e.printJSON(out)
	}
	e.printf("created %s\n", p)
	return nil
}

// createEphemeral creates an ephemeral node in the session named, or in
// a session of its own that it then holds until ctx ends.
func (e *env) createEphemeral(ctx context.Context, p string, data []byte, opts *client.CreateOptions, sessionID string) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	op := "create " + p
	cctx, cancel := e.call(ctx)
	defer cancel()
	if sessionID != "" {
		id, err := api.ParseID(sessionID)
		if err != nil {
			return e.usage("--session: %v", err)
		}
		// Within the session, without keeping it alive: that stays its
		// owner's. A session that is not open is SessionExpired.
		actual, stat, err := c.InSession(id).Create(cctx, p, data, opts)
		if err != nil {
			return e.fail(op, err)
		}
		return e.printCreated(actual, stat, id)
	}
	s, err := c.NewSession(cctx, 0)
	if err != nil {
		return e.fail(op, err)
	}
	actual, stat, err := s.Create(cctx, p, data, opts)
	if err != nil {
		e.closeSession(s)
		return e.fail(op, err)
	}
	if err := e.printCreated(actual, stat, s.ID()); err != nil {
		e.closeSession(s)
		return err
	}
	fmt.Fprintf(e.stderr, "holding session %s (timeout %v): %s lives until this command ends (Ctrl-C)\n", s.ID(), s.Timeout(), actual)
	return e.hold(ctx, s, "create "+actual)
}

// hold keeps s alive until ctx ends, then closes it; a session lost on
// the way is an error.
func (e *env) hold(ctx context.Context, s *client.Session, op string) error {
	select {
	case <-ctx.Done():
		if err := e.closeSession(s); err != nil {
			return e.fail(op, err)
		}
		fmt.Fprintf(e.stderr, "closed session %s\n", s.ID())
		return nil
	case <-s.Done():
		return e.fail(op, fmt.Errorf("session %s: %w", s.ID(), s.Err()))
	}
}

// closeSession closes s within --timeout, even when the command's own
// context has ended.
func (e *env) closeSession(s *client.Session) error {
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	return s.Close(ctx)
}

// versionFlag is -v: a node version, -1 (the default) for any.
func versionFlag(fs *flag.FlagSet) *int {
	return fs.Int("v", -1, "only if the node's version is `VERSION` (-1: any)")
}

func checkVersion(e *env, v int) (int32, error) {
	if v < -1 || v > 1<<31-1 {
		return 0, e.usage("-v must be a version (0 to 2147483647), or -1 for any")
	}
	return int32(v), nil
}

func setVerb() *verb {
	return &verb{name: "set", args: "[-v VERSION] PATH [DATA | - | -f FILE]", summary: "replace a node's data", min: 1, max: 2,
		details: `Replaces PATH's data with DATA, stdin ("-"), or a file's content (-f);
with none, empties it. With -v, only if the node's version is VERSION
(exit 5, BadVersion, otherwise). Prints the node's new version. In JSON:
the API's {"path","stat"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			version := versionFlag(fs)
			file := fs.String("f", "", "read the data from this `FILE`")
			return func(ctx context.Context, e *env, args []string) error {
				v, err := checkVersion(e, *version)
				if err != nil {
					return err
				}
				data, err := e.readData(args[1:], *file)
				if err != nil {
					return err
				}
				var stat client.Stat
				err = e.oneCall(ctx, "set "+args[0], func(ctx context.Context, c *client.Client) (err error) {
					stat, err = c.Set(ctx, args[0], data, v)
					return err
				})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(api.PathStat{Path: args[0], Stat: stat})
				}
				e.printf("updated %s (version %d)\n", args[0], stat.Version)
				return nil
			}
		}}
}

// pathResult is the JSON of verbs whose API answer has no body.
type pathResult struct {
	Path string `json:"path"`
}

func deleteVerb() *verb {
	return &verb{name: "delete", args: "[-v VERSION] PATH", summary: "delete a childless node", min: 1, max: 1,
		details: `Deletes PATH, which must have no children (exit 4, NotEmpty, otherwise:
'canopy deleteall' deletes a subtree). With -v, only if the node's
version is VERSION. In JSON: {"path"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			version := versionFlag(fs)
			return func(ctx context.Context, e *env, args []string) error {
				v, err := checkVersion(e, *version)
				if err != nil {
					return err
				}
				err = e.oneCall(ctx, "delete "+args[0], func(ctx context.Context, c *client.Client) error {
					return c.Delete(ctx, args[0], v)
				})
				if err != nil {
					return err
				}
				return e.printDeleted(args[0])
			}
		}}
}

func (e *env) printDeleted(p string) error {
	if e.json {
		return e.printJSON(pathResult{Path: p})
	}
	e.printf("deleted %s\n", p)
	return nil
}

func deleteAllVerb() *verb {
	return &verb{name: "deleteall", args: "PATH", summary: "delete a node and everything below it", min: 1, max: 1,
		details: `Deletes PATH and its whole subtree in one atomic operation: all of it
goes, or nothing does. On a terminal, counts the nodes first and says how
many it deletes. In JSON: {"path"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				p, op := args[0], "deleteall "+args[0]
				prog := e.newProgress("counting", 0)
				if prog != nil {
					root, err := e.walkTree(ctx, c, p, prog)
					if err != nil {
						prog.clear()
						return e.fail(op, err)
					}
					n := 0
					eachNode(root, func(*client.TreeNode) error { n++; return nil })
					prog.begin("deleting %d nodes...", n)
				}
				cctx, cancel := e.call(ctx)
				defer cancel()
				if err := c.DeleteAll(cctx, p); err != nil {
					prog.end("failed")
					return e.fail(op, err)
				}
				prog.end("done")
				return e.printDeleted(p)
			}
		}}
}
