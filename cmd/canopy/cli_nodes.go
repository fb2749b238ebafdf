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

// The zkCli verbs on nodes: ls, get, stat, create, set, delete, deleteall,
// sync.

func lsVerb() *verb {
	return &verb{name: "ls", args: "[-R] [-s] [-w] PATH", summary: "list a node's children", min: 1, max: 1,
		details: `Lists the names of PATH's children, sorted, one per line. With -R, lists
PATH and every node below it by full path, parents first (a big tree is
fetched in pages). With -s, each child's stat in columns. With -w, sets a
child watch with the listing, waits for its one event and prints it.
In JSON: the API's children object {"path","children","stat"} (children
as {"name","stat"} with -s); with -R the API's tree object, complete.`,
		setup: func(fs *flag.FlagSet) runFunc {
			recursive := fs.Bool("R", false, "list the whole subtree by path")
			stats := fs.Bool("s", false, "show each child's stat")
			watch := fs.Bool("w", false, "set a child watch and wait for its event")
			return func(ctx context.Context, e *env, args []string) error {
				if *recursive && *watch {
					return e.usage("-w does not go with -R; 'canopy watch -r PATH' watches a subtree")
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				p := args[0]
				if *recursive {
					return e.lsRecursive(ctx, c, p, *stats)
				}
				return e.ls(ctx, c, p, *stats, *watch)
			}
		}}
}

func (e *env) ls(ctx context.Context, c *client.Client, p string, stats, watch bool) error {
	op := "ls " + p
	var events <-chan client.Event
	var names []string
	var parent client.Stat
	if watch {
		cctx, cancel := e.call(ctx)
		var err error
		names, parent, events, err = c.ChildrenW(cctx, p)
		cancel()
		if err != nil {
			return e.fail(op, err)
		}
	}
	var kids []client.ChildStat
	if !watch || stats {
		var err error
		kids, parent, err = e.allChildren(ctx, c, p)
		if err != nil {
			return e.fail(op, err)
		}
		names = names[:0]
		for _, k := range kids {
			names = append(names, k.Name)
		}
	}
	switch {
	case e.json && stats:
		e.printJSON(api.Children{Path: p, Children: kids, Stat: parent})
	case e.json:
		e.printJSON(api.Children{Path: p, Children: append([]string{}, names...), Stat: parent})
	case stats:
		t := newStatTable(e.stdout, "NAME")
		for _, k := range kids {
			t.row(k.Name, k.Stat)
		}
		t.flush()
	default:
		for _, n := range names {
			e.printf("%s\n", n)
		}
	}
	if watch {
		return e.waitOne(ctx, op, events)
	}
	return nil
}

// allChildren lists every child with its stat, a page at a time.
func (e *env) allChildren(ctx context.Context, c *client.Client, p string) ([]client.ChildStat, client.Stat, error) {
	var kids []client.ChildStat
	var parent client.Stat
	after := ""
	for {
		cctx, cancel := e.call(ctx)
		page, err := c.ChildrenStat(cctx, p, after, treePage)
		cancel()
		if err != nil {
			return nil, client.Stat{}, err
		}
		if after == "" {
			parent = page.Stat
		}
		kids = append(kids, page.Children...)
		if after = page.Next; after == "" {
			return kids, parent, nil
		}
	}
}

func (e *env) lsRecursive(ctx context.Context, c *client.Client, p string, stats bool) error {
	prog := e.newProgress("listing", 0)
	root, err := e.walkTree(ctx, c, p, prog)
	prog.clear()
	if err != nil {
		return e.fail("ls "+p, err)
	}
	if e.json {
		return e.printJSON(root)
	}
	if stats {
		t := newStatTable(e.stdout, "PATH")
		eachNode(root, func(n *client.TreeNode) error { t.row(n.Path, n.Stat); return nil })
		t.flush()
		return nil
	}
	return eachNode(root, func(n *client.TreeNode) error {
		_, err := fmt.Fprintln(e.stdout, n.Path)
		return err
	})
}

// waitOne waits for a one-shot watch's event and prints it.
func (e *env) waitOne(ctx context.Context, op string, events <-chan client.Event) error {
	select {
	case ev := <-events:
		if ev.Type == client.EventNotWatching || ev.Type == "" {
			return e.fail(op, &api.Error{Code: api.CodeUnavailable, Message: "the connection holding the watch was lost before it fired"})
		}
		return e.printEvent(ev)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func getVerb() *verb {
	return &verb{name: "get", args: "[-s] [-w] PATH", summary: "print a node's data", min: 1, max: 1,
		details: `Writes PATH's data to stdout as it is, byte for byte (a newline is added
only on a terminal, when the data lacks one). With -s, the stat follows,
as 'canopy stat' prints it. With -w, sets a data watch with the read,
waits for its one event and prints it.
In JSON: the API's {"path","data","encoding","stat"}, data as UTF-8 text
or, when it is not valid UTF-8, base64 ("encoding":"base64").`,
		setup: func(fs *flag.FlagSet) runFunc {
			stats := fs.Bool("s", false, "print the stat after the data")
			watch := fs.Bool("w", false, "set a data watch and wait for its event")
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				p, op := args[0], "get "+args[0]
				var nd client.Node
				var events <-chan client.Event
				cctx, cancel := e.call(ctx)
				if *watch {
					nd, events, err = c.GetW(cctx, p)
				} else {
					nd, err = c.Get(cctx, p)
				}
				cancel()
				if err != nil {
					return e.fail(op, err)
				}
				if e.json {
					e.printJSON(api.NewNodeData(p, string(nd.Data), nd.Stat, false))
				} else {
					e.stdout.Write(nd.Data)
					if *stats || *watch || terminal(e.stdout) {
						endLine(e.stdout, nd.Data)
					}
					if *stats {
						writeStat(e.stdout, nd.Stat)
					}
				}
				if *watch {
					return e.waitOne(ctx, op, events)
				}
				return nil
			}
		}}
}

func statVerb() *verb {
	return &verb{name: "stat", args: "PATH", summary: "print a node's stat", min: 1, max: 1,
		details: `Prints PATH's stat as zkCli does: one "field = value" per line, with the
API's field names; times are milliseconds since the epoch followed by the
local time. In JSON: the API's {"path","stat"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				cctx, cancel := e.call(ctx)
				defer cancel()
				stat, err := c.Stat(cctx, args[0])
				if err != nil {
					return e.fail("stat "+args[0], err)
				}
				if e.json {
					return e.printJSON(api.PathStat{Path: args[0], Stat: stat})
				}
				writeStat(e.stdout, stat)
				return nil
			}
		}}
}

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
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		t.d = time.Duration(ms) * time.Millisecond
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration like 30s, or milliseconds")
	}
	t.d = d
	return nil
}

func createVerb() *verb {
	return &verb{name: "create", args: "[-e] [-s] [-c] [-t TTL] [-p] [--session ID] PATH [DATA | - | -f FILE]", summary: "create a node",
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
			return func(ctx context.Context, e *env, args []string) error {
				data, err := e.readData(args[1:], *file)
				if err != nil {
					return err
				}
				if *session != "" && !*eph {
					return e.usage("--session goes with -e")
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				p := args[0]
				opts := &client.CreateOptions{Ephemeral: *eph, Sequential: *seq, Container: *cont, TTL: ttl.d, Parents: *parents}
				if *eph {
					return e.createEphemeral(ctx, c, p, data, opts, *session)
				}
				cctx, cancel := e.call(ctx)
				defer cancel()
				actual, stat, err := c.Create(cctx, p, data, opts)
				if err != nil {
					return e.fail("create "+p, err)
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
func (e *env) createEphemeral(ctx context.Context, c *client.Client, p string, data []byte, opts *client.CreateOptions, sessionID string) error {
	op := "create " + p
	cctx, cancel := e.call(ctx)
	defer cancel()
	if sessionID != "" {
		id, err := api.ParseID(sessionID)
		if err != nil {
			return e.usage("--session: %v", err)
		}
		// The client has no way to act within a session without keeping
		// it alive; its keep-alive stops when the command ends (the
		// client is closed) and the session stays with its owner.
		s, err := c.ResumeSession(cctx, id)
		if err != nil {
			return e.fail(op, err)
		}
		actual, stat, err := s.Create(cctx, p, data, opts)
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
				c, err := e.client()
				if err != nil {
					return err
				}
				cctx, cancel := e.call(ctx)
				defer cancel()
				stat, err := c.Set(cctx, args[0], data, v)
				if err != nil {
					return e.fail("set "+args[0], err)
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
				c, err := e.client()
				if err != nil {
					return err
				}
				cctx, cancel := e.call(ctx)
				defer cancel()
				if err := c.Delete(cctx, args[0], v); err != nil {
					return e.fail("delete "+args[0], err)
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

func syncVerb() *verb {
	return &verb{name: "sync", args: "PATH", summary: "wait until the answering server is up to date", min: 1, max: 1,
		details: `ZooKeeper's sync: returns once the server answering has applied every
write committed before the call, and prints that zxid. A missing PATH is
fine. In JSON: the API's {"zxid"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				cctx, cancel := e.call(ctx)
				defer cancel()
				zxid, err := c.Sync(cctx, args[0])
				if err != nil {
					return e.fail("sync "+args[0], err)
				}
				if e.json {
					return e.printJSON(api.SyncResult{Zxid: zxid})
				}
				e.printf("synced at zxid %d\n", zxid)
				return nil
			}
		}}
}
