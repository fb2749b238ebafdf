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
// not tell container and TTL nodes from persistent ones. ACL came after
// the format's first files, hence optional: a node without one is
// imported with the server's default ACL.
type exportNode struct {
	Path     string     `json:"path"`
	Data     string     `json:"data"`
	Encoding string     `json:"encoding"` // "utf8" or "base64"
	Kind     string     `json:"kind,omitempty"`
	Owner    *client.ID `json:"ephemeralOwner,omitempty"`
	ACL      []api.ACL  `json:"acl,omitempty"`
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
	return &verb{name: "export", args: "[-f FILE] [--no-acl] PATH", summary: "write a subtree, data and ACLs included, as JSON", min: 1, max: 1,
		details: `Writes PATH and every node below it to stdout (or FILE, written atomically)
as JSON: {"format":"canopy-export/1","path","zxid","nodes":[...]}, one node
per line, parents first. Each node has its "path", its "data" as UTF-8
text or base64 ("encoding"), its "acl" (as getacl -o json shows it), and
"kind":"ephemeral" with its owner when it is ephemeral.
Reading a node needs READ on it, and its ACL as it is, digest ids
unmasked, ADMIN: a node export cannot read wholly makes it fail (exit 9)
naming it, before writing anything; --no-acl exports without ACLs (a file
older canopy versions can import). Container and TTL nodes cannot be told from persistent ones
through the API and export as persistent. Stats (versions, zxids, times)
are not exported. /zookeeper is left out. The tree is read in many calls,
not as one snapshot: "zxid" is the highest zxid seen. On a terminal,
shows progress.`,
		setup: func(fs *flag.FlagSet) runFunc {
			file := fs.String("f", "", "write to `FILE` instead of stdout")
			noACL := fs.Bool("no-acl", false, "leave the nodes' ACLs out")
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				p, op := args[0], "export "+args[0]
				out, err := e.export(ctx, c, p, !*noACL)
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
// each node's data, and its ACL when withACL.
func (e *env) export(ctx context.Context, c *client.Client, p string, withACL bool) (*exportFile, error) {
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
	var hidden aclsHidden
	var noACLs atomic.Bool
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
		if withACL && !noACLs.Load() {
			cctx, cancel := e.call(ctx)
			res, err := c.GetACL(cctx, paths[i])
			cancel()
			switch {
			case errors.Is(err, client.ErrNoNode):
				return nil
			case api.CodeOf(err) == api.CodeNotFound:
				// A server older than ACLs: its nodes have none to
				// export, and it need not be asked again.
				noACLs.Store(true)
			case errors.Is(err, client.ErrNoAuth) || err == nil && masked(res.ACL):
				hidden.add(paths[i])
			case err != nil:
				return err
			}
			n.ACL = res.ACL
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
	if err := hidden.err(); err != nil {
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

// masked reports whether an ACL came with its digest ids masked
// ("alice:x"): the server's answer to a caller without ADMIN. A real
// digest is 28 characters of base64, never "x".
func masked(acl []api.ACL) bool {
	for _, a := range acl {
		if a.Scheme == "digest" && strings.HasSuffix(a.ID, ":x") {
			return true
		}
	}
	return false
}

// aclsHidden collects the nodes whose ACL export could not read as it
// is: exporting them without it would lose it silently.
type aclsHidden struct {
	mu    sync.Mutex
	paths []string
}

func (h *aclsHidden) add(p string) {
	h.mu.Lock()
	h.paths = append(h.paths, p)
	h.mu.Unlock()
}

func (h *aclsHidden) err() error {
	if len(h.paths) == 0 {
		return nil
	}
	slices.Sort(h.paths)
	names := h.paths
	if len(names) > 3 {
		names = append(names[:3:3], "...")
	}
	return &api.Error{Code: api.CodeNoAuth, Message: fmt.Sprintf(
		"cannot read the ACL of %d node(s) as it is (%s): that needs ADMIN on them (READ shows digest ids masked); nothing was exported: export as a user with ADMIN (--user), or with --no-acl",
		len(h.paths), strings.Join(names, ", "))}
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
