package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
)

// The zkCli verbs that read: ls, get, stat, sync.

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
	kids := []client.ChildStat{} // JSON [] rather than null
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
				p, op := args[0], "get "+args[0]
				var nd client.Node
				var events <-chan client.Event
				err := e.oneCall(ctx, op, func(ctx context.Context, c *client.Client) (err error) {
					if *watch {
						nd, events, err = c.GetW(ctx, p)
					} else {
						nd, err = c.Get(ctx, p)
					}
					return err
				})
				if err != nil {
					return err
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
				var stat client.Stat
				err := e.oneCall(ctx, "stat "+args[0], func(ctx context.Context, c *client.Client) (err error) {
					stat, err = c.Stat(ctx, args[0])
					return err
				})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(api.PathStat{Path: args[0], Stat: stat})
				}
				writeStat(e.stdout, stat)
				return nil
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
				var zxid int64
				err := e.oneCall(ctx, "sync "+args[0], func(ctx context.Context, c *client.Client) (err error) {
					zxid, err = c.Sync(ctx, args[0])
					return err
				})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(api.SyncResult{Zxid: zxid})
				}
				e.printf("synced at zxid %d\n", zxid)
				return nil
			}
		}}
}
