package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
)

// importMaxOps and importMaxBytes bound one multi of an import, under the
// server's defaults of 1,000 ops and 2 MiB per request.
const (
	importMaxOps   = 500
	importMaxBytes = 1 << 20
)

func importVerb() *verb {
	return &verb{name: "import", args: "[--into PATH] [--overwrite] [--ephemerals] FILE | -", summary: "recreate a subtree written by export", min: 1, max: 1,
		details: `Recreates the nodes of an export file (or stdin for "-") with their data,
at their exported paths or, with --into, with the exported root moved to
PATH ("export /app" then "import --into /app2" copies /app to /app2).
Missing ancestors of the target are created empty. The writes go in
multis of up to 500 nodes, each atomic; an import that fails midway says
how many nodes it wrote.
Each node created gets the ACL of the file ("acl"), or the server's
default when the file has none (files of export --no-acl, or of older
versions). A node whose ACL would keep the importer from creating its
children is created with the default and given its ACL once its subtree
is written, deepest first.
It refuses to change an existing node (exit 4, before writing anything)
unless --overwrite, which replaces the data of those that differ; an
existing node that already holds the exported data is left as it is.
Existing nodes keep their ACLs ('canopy setacl' changes them).
Nodes that are not in the file are never deleted. Ephemeral nodes in the
file are skipped (they belong to sessions of the source), unless
--ephemerals, which creates them as persistent nodes. /zookeeper is
skipped. On a terminal, shows progress. In JSON:
{"path","created","updated","unchanged","skipped"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			into := fs.String("into", "", "import with the exported root moved to `PATH`")
			overwrite := fs.Bool("overwrite", false, "replace the data of existing nodes that differ")
			ephemerals := fs.Bool("ephemerals", false, "create the ephemeral nodes of the file as persistent ones")
			return func(ctx context.Context, e *env, args []string) error {
				if *into != "" && !strings.HasPrefix(*into, "/") {
					return e.usage("--into must be an absolute path, like /app")
				}
				data, err := e.readInput(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				f, err := readExport(data)
				if err != nil {
					return fmt.Errorf("import: %s: %w", inputName(args[0]), err)
				}
				target := f.Path
				if *into != "" {
					target = *into
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				im := &importer{e: e, c: c, file: f, from: f.Path, to: target, overwrite: *overwrite, ephemerals: *ephemerals}
				if err := im.run(ctx); err != nil {
					return e.failAt("import into "+target, "", err)
				}
				if e.json {
					return e.printJSON(im.result)
				}
				r := im.result
				e.printf("imported %s into %s: %d created, %d updated, %d unchanged, %d skipped\n", f.Path, target, r.Created, r.Updated, r.Unchanged, r.Skipped)
				return nil
			}
		}}
}

// readExport decodes and checks an export file.
func readExport(data []byte) (*exportFile, error) {
	var f exportFile
	if err := api.DecodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("not an export file: %v", err)
	}
	if f.Format != exportFormat {
		return nil, fmt.Errorf("format %q: want %q (made by 'canopy export')", f.Format, exportFormat)
	}
	if !strings.HasPrefix(f.Path, "/") {
		return nil, fmt.Errorf("path %q is not absolute", f.Path)
	}
	// Parents before children, whatever order a hand-edited file has.
	slices.SortStableFunc(f.Nodes, func(a, b exportNode) int { return depth(a.Path) - depth(b.Path) })
	for _, n := range f.Nodes {
		if !api.Under(n.Path, f.Path) {
			return nil, fmt.Errorf("node %q is not under the exported root %q", n.Path, f.Path)
		}
		if _, err := n.bytes(); err != nil {
			return nil, fmt.Errorf("node %q: %v", n.Path, err)
		}
	}
	return &f, nil
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// importResult counts what an import did.
type importResult struct {
	Path      string `json:"path"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	Skipped   int    `json:"skipped"`
}

type importer struct {
	e          *env
	c          *client.Client
	file       *exportFile
	from, to   string
	overwrite  bool
	ephemerals bool
	result     importResult
}

// planned is one node to write.
type planned struct {
	path   string
	data   []byte
	acl    []api.ACL // of a create; none: the server's default
	exists bool      // set its data rather than create it
}

func (im *importer) run(ctx context.Context) error {
	im.result.Path = im.to
	prog := im.e.newProgress("checking", 0)
	defer prog.clear()
	existing, err := im.existing(ctx, prog)
	if err != nil {
		return err
	}
	var plan []planned
	var same []int // indexes in plan of existing nodes whose data may be the same
	for _, n := range im.file.Nodes {
		p := rebase(n.Path, im.from, im.to)
		if api.Under(p, reserved) || n.Kind == "ephemeral" && !im.ephemerals {
			im.result.Skipped++
			continue
		}
		data, _ := n.bytes()
		st, ok := existing[p]
		if ok && int(st.DataLength) == len(data) {
			same = append(same, len(plan))
		}
		plan = append(plan, planned{path: p, data: data, acl: n.ACL, exists: ok})
	}
	// Existing nodes of the same length: read them to compare.
	unchanged := make([]bool, len(plan))
	err = forEach(ctx, len(same), func(ctx context.Context, i int) error {
		pl := plan[same[i]]
		cctx, cancel := im.e.call(ctx)
		nd, err := im.c.Get(cctx, pl.path)
		cancel()
		if errors.Is(err, client.ErrNoNode) {
			plan[same[i]].exists = false // deleted meanwhile: create it
			return nil
		}
		if err != nil {
			return err
		}
		unchanged[same[i]] = string(nd.Data) == string(pl.data)
		return nil
	})
	if err != nil {
		return err
	}
	var todo, conflicts []planned
	for i, pl := range plan {
		switch {
		case unchanged[i]:
			im.result.Unchanged++
		case pl.exists:
			conflicts = append(conflicts, pl)
			todo = append(todo, pl)
		default:
			todo = append(todo, pl)
		}
	}
	if len(conflicts) > 0 && !im.overwrite {
		return conflictError(conflicts)
	}
	if err := im.ensureParent(ctx); err != nil {
		return err
	}
	prog.phase("importing", len(todo))
	return im.write(ctx, todo, prog)
}

func conflictError(conflicts []planned) error {
	var names []string
	for i, c := range conflicts {
		if i == 3 {
			names = append(names, "...")
			break
		}
		names = append(names, c.path)
	}
	return &api.Error{Code: api.CodeNodeExists, Message: fmt.Sprintf(
		"%d node(s) already exist with other data (%s); nothing was imported: --overwrite replaces their data",
		len(conflicts), strings.Join(names, ", "))}
}

// existing lists the nodes already under the target.
func (im *importer) existing(ctx context.Context, prog *progress) (map[string]client.Stat, error) {
	out := map[string]client.Stat{}
	cctx, cancel := im.e.call(ctx)
	_, ok, err := im.c.Exists(cctx, im.to)
	cancel()
	if err != nil || !ok {
		return out, err
	}
	root, err := im.e.walkTree(ctx, im.c, im.to, prog)
	if errors.Is(err, client.ErrNoNode) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	eachNode(root, func(n *client.TreeNode) error { out[n.Path] = n.Stat; return nil })
	return out, nil
}

// ensureParent creates the missing ancestors of the target.
func (im *importer) ensureParent(ctx context.Context) error {
	parent := path.Dir(im.to)
	if im.to == "/" || parent == "/" {
		return nil
	}
	cctx, cancel := im.e.call(ctx)
	defer cancel()
	_, _, err := im.c.Create(cctx, parent, nil, &client.CreateOptions{Parents: true})
	if errors.Is(err, client.ErrNodeExists) {
		return nil
	}
	return err
}

// write applies the plan in multis, parents before children, then the
// ACLs held back.
func (im *importer) write(ctx context.Context, todo []planned, prog *progress) error {
	later := holdACLs(todo)
	if err := im.writeNodes(ctx, todo, prog); err != nil {
		return err
	}
	// Deepest first: a node's ACL never stands in the way of its own.
	for i := len(later) - 1; i >= 0; i-- {
		pl := later[i]
		cctx, cancel := im.e.call(ctx)
		_, err := im.c.SetACL(cctx, pl.path, pl.acl, client.AnyVersion)
		cancel()
		if err != nil {
			return fmt.Errorf("setting the ACL of %s: %w (every node was written; %d of %d ACLs of nodes with children were still to set)",
				pl.path, err, i+1, len(later))
		}
	}
	return nil
}

// holdACLs takes out of todo, and returns, the ACLs to set after the
// nodes are written: those of nodes created with children below them,
// since CREATE is checked on the parent and the ACL may not give it to
// the importer. An ACL that gives everyone CREATE goes with the create.
func holdACLs(todo []planned) []planned {
	parents := map[string]bool{}
	for _, pl := range todo {
		if !pl.exists {
			parents[path.Dir(pl.path)] = true
		}
	}
	var later []planned
	for i, pl := range todo {
		if pl.exists || len(pl.acl) == 0 || !parents[pl.path] || anyoneMayCreate(pl.acl) {
			continue
		}
		later = append(later, pl)
		todo[i].acl = nil
	}
	return later
}

func anyoneMayCreate(acl []api.ACL) bool {
	for _, a := range acl {
		if a.Scheme == "world" && a.ID == "anyone" && a.Perms&api.PermCreate != 0 {
			return true
		}
	}
	return false
}

func (im *importer) writeNodes(ctx context.Context, todo []planned, prog *progress) error {
	var ops []client.Op
	var batch []planned
	size := 0
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		cctx, cancel := im.e.call(ctx)
		_, err := im.c.Multi(cctx, ops...)
		cancel()
		if err != nil {
			var ae *api.Error
			where := ""
			if errors.As(err, &ae) && ae.Index != nil && *ae.Index < len(batch) {
				where = fmt.Sprintf(" at %s", batch[*ae.Index].path)
			}
			return fmt.Errorf("writing%s: %w (%d nodes were written before this batch of %d, which was not)",
				where, err, im.result.Created+im.result.Updated, len(ops))
		}
		for _, pl := range batch {
			if pl.exists {
				im.result.Updated++
			} else {
				im.result.Created++
			}
		}
		prog.update(im.result.Created + im.result.Updated)
		ops, batch, size = ops[:0], batch[:0], 0
		return nil
	}
	for _, pl := range todo {
		cost := len(pl.path) + base64.StdEncoding.EncodedLen(len(pl.data)) + 100
		for _, a := range pl.acl {
			cost += len(a.ID) + 50
		}
		if len(ops) == importMaxOps || len(ops) > 0 && size+cost > importMaxBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		if pl.exists {
			ops = append(ops, client.SetOp(pl.path, pl.data, client.AnyVersion))
		} else {
			ops = append(ops, client.CreateOp(pl.path, pl.data, &client.CreateOptions{ACL: pl.acl}))
		}
		batch = append(batch, pl)
		size += cost
	}
	return flush()
}

// rebase moves p from under the root from to under the root to.
func rebase(p, from, to string) string {
	if p == from {
		return to
	}
	rest := p // from is "/": p is "/a/b"
	if from != "/" {
		rest = p[len(from):]
	}
	if to == "/" {
		return rest
	}
	return to + rest
}
