package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
)

// exportFormat names the file format of export and import; a change that
// old readers would misread gets a new number.
const exportFormat = "canopy-export/1"

// exportFile is what export writes and import reads.
type exportFile struct {
	Format string `json:"format"`
	// Path is the subtree's root as exported.
	Path string `json:"path"`
	// Zxid is the highest zxid the export saw: the tree is read in many
	// calls, not as one snapshot, and reflects the state up to about it.
	Zxid  int64        `json:"zxid"`
	Nodes []exportNode `json:"nodes"`
}

// exportNode is one node, parents before children. Kind is "ephemeral"
// for an ephemeral node (with its owner), absent otherwise: the API does
// not tell container and TTL nodes from persistent ones.
type exportNode struct {
	Path     string     `json:"path"`
	Data     string     `json:"data"`
	Encoding string     `json:"encoding"` // "utf8" or "base64"
	Kind     string     `json:"kind,omitempty"`
	Owner    *client.ID `json:"ephemeralOwner,omitempty"`
}

func encodeData(data []byte) (string, string) {
	if utf8.Valid(data) {
		return string(data), "utf8"
	}
	return base64.StdEncoding.EncodeToString(data), "base64"
}

func (n exportNode) bytes() ([]byte, error) {
	switch n.Encoding {
	case "utf8", "":
		return []byte(n.Data), nil
	case "base64":
		return base64.StdEncoding.DecodeString(n.Data)
	}
	return nil, fmt.Errorf("encoding %q: want utf8 or base64", n.Encoding)
}

// reserved is the subtree no client may write (DESIGN §3): export leaves
// it out and import skips it.
const reserved = "/zookeeper"

// fetchWorkers is how many reads export and import have in flight.
const fetchWorkers = 8

func exportVerb() *verb {
	return &verb{name: "export", args: "[-f FILE] PATH", summary: "write a subtree, data included, as JSON", min: 1, max: 1,
		details: `Writes PATH and every node below it to stdout (or FILE, written atomically)
as JSON: {"format":"canopy-export/1","path","zxid","nodes":[...]}, one node
per line, parents first. Each node has its "path", its "data" as UTF-8
text or base64 ("encoding"), and "kind":"ephemeral" with its owner when it
is ephemeral. Container and TTL nodes cannot be told from persistent ones
through the API and export as persistent. Stats (versions, zxids, times)
are not exported. /zookeeper is left out. The tree is read in many calls,
not as one snapshot: "zxid" is the highest zxid seen. On a terminal,
shows progress.`,
		setup: func(fs *flag.FlagSet) runFunc {
			file := fs.String("f", "", "write to `FILE` instead of stdout")
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				p, op := args[0], "export "+args[0]
				out, err := e.export(ctx, c, p)
				if err != nil {
					return e.fail(op, err)
				}
				if *file == "" {
					return writeExport(e.stdout, out)
				}
				if err := writeFileAtomic(*file, func(w io.Writer) error { return writeExport(w, out) }); err != nil {
					return fmt.Errorf("%s: %w", op, err)
				}
				if terminal(e.stderr) {
					fmt.Fprintf(e.stderr, "exported %d nodes to %s\n", len(out.Nodes), *file)
				}
				return nil
			}
		}}
}

// export reads the subtree at p: its shape through the tree API, then
// each node's data.
func (e *env) export(ctx context.Context, c *client.Client, p string) (*exportFile, error) {
	prog := e.newProgress("listing", 0)
	defer prog.clear()
	root, err := e.walkTree(ctx, c, p, prog)
	if err != nil {
		return nil, err
	}
	var paths []string
	eachNode(root, func(n *client.TreeNode) error {
		if !api.Under(n.Path, reserved) {
			paths = append(paths, n.Path)
		}
		return nil
	})
	prog.phase("exporting", len(paths))
	nodes := make([]*exportNode, len(paths))
	var done atomic.Int64
	var progMu sync.Mutex
	// Stale reads: any server answers at once, never older than what
	// the listing saw.
	reader := c.Stale()
	err = forEach(ctx, len(paths), func(ctx context.Context, i int) error {
		cctx, cancel := e.call(ctx)
		nd, err := reader.Get(cctx, paths[i])
		cancel()
		if errors.Is(err, client.ErrNoNode) {
			return nil // deleted since the listing
		}
		if err != nil {
			return err
		}
		n := &exportNode{Path: paths[i]}
		n.Data, n.Encoding = encodeData(nd.Data)
		if owner := nd.Stat.EphemeralOwner; owner != 0 {
			n.Kind, n.Owner = "ephemeral", &owner
		}
		nodes[i] = n
		progMu.Lock()
		prog.update(int(done.Add(1)))
		progMu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &exportFile{Format: exportFormat, Path: p, Zxid: c.LastZxid(), Nodes: []exportNode{}}
	for _, n := range nodes {
		if n != nil {
			out.Nodes = append(out.Nodes, *n)
		}
	}
	return out, nil
}

// writeExport writes the file one node per line: diffable, and valid
// JSON as a whole.
func writeExport(w io.Writer, f *exportFile) error {
	bw := bufio.NewWriter(w)
	head, _ := json.Marshal(struct {
		Format string `json:"format"`
		Path   string `json:"path"`
		Zxid   int64  `json:"zxid"`
	}{f.Format, f.Path, f.Zxid})
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"nodes":[`)
	for i, n := range f.Nodes {
		if i > 0 {
			bw.WriteByte(',')
		}
		b, err := json.Marshal(n)
		if err != nil {
			return err
		}
		bw.WriteString("\n")
		bw.Write(b)
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

// writeFileAtomic writes a file through a temporary one renamed into
// place: a failed write leaves no half file.
func writeFileAtomic(file string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".canopy-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = write(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// forEach calls fn for 0..n-1 on fetchWorkers goroutines; the first error
// stops the rest.
func forEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(fetchWorkers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

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
It refuses to change an existing node (exit 4, before writing anything)
unless --overwrite, which replaces the data of those that differ; an
existing node that already holds the exported data is left as it is.
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
	exists bool // set its data rather than create it
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
		plan = append(plan, planned{path: p, data: data, exists: ok})
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

// write applies the plan in multis, parents before children.
func (im *importer) write(ctx context.Context, todo []planned, prog *progress) error {
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
		if len(ops) == importMaxOps || len(ops) > 0 && size+cost > importMaxBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		if pl.exists {
			ops = append(ops, client.SetOp(pl.path, pl.data, client.AnyVersion))
		} else {
			ops = append(ops, client.CreateOp(pl.path, pl.data, nil))
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
