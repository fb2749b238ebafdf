package recipe

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/ctxtime"
)

// protectedPrefix starts the names of the nodes a recipe creates
// sequentially, followed by a per-attempt guid (Curator's convention, so
// that tools that know Curator's names read ours).
const protectedPrefix = "_c_"

// seqLen is the length of the counter the server appends to a sequential
// node's name.
const seqLen = 10

// seqNode is a child named by a sequential create: [_c_<guid>-]<kind>-<seq>.
type seqNode struct {
	name string
	guid string // "" for a name made without a guid (another client, by hand)
	kind string
	seq  int64
}

// parseSeqNode reads a child's name; false for a name that does not end
// with a sequence number. Names not made by this package are accepted
// (kind is the text before the counter), so that a lock node made by hand
// or by another client still counts.
func parseSeqNode(name string) (seqNode, bool) {
	if len(name) < seqLen {
		return seqNode{}, false
	}
	seq, err := strconv.ParseInt(name[len(name)-seqLen:], 10, 64)
	if err != nil || seq < 0 {
		return seqNode{}, false
	}
	n := seqNode{name: name, seq: seq}
	rest := strings.TrimSuffix(name[:len(name)-seqLen], "-")
	if g, ok := strings.CutPrefix(rest, protectedPrefix); ok {
		if i := strings.IndexByte(g, '-'); i > 0 {
			n.guid, rest = g[:i], g[i+1:]
		}
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		rest = rest[i+1:]
	}
	n.kind = rest
	return n, true
}

// sortedSeqNodes parses names and sorts them by sequence number: the order
// of their creation. Other children are left out.
func sortedSeqNodes(names []string) []seqNode {
	out := make([]seqNode, 0, len(names))
	for _, name := range names {
		if n, ok := parseSeqNode(name); ok {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b seqNode) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), strings.Compare(a.name, b.name))
	})
	return out
}

// newGUID is a random 128-bit name prefix, unique per create attempt.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// protectedName is the path to create sequentially under dir.
func protectedName(dir, guid, kind string) string {
	return join(dir, protectedPrefix+guid+"-"+kind+"-")
}

// join is dir/name, for dir "/" too.
func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// ambiguous reports whether a write that failed with err may have been
// applied all the same.
func ambiguous(err error) bool {
	return errors.Is(err, client.ErrConnectionLoss) || errors.Is(err, client.ErrUnavailable) ||
		errors.Is(err, client.ErrOperationTimeout)
}

// ensureDir creates dir and its missing ancestors as persistent nodes.
func ensureDir(ctx context.Context, c *client.Client, dir string) error {
	if dir == "/" {
		return nil
	}
	_, _, err := c.Create(ctx, dir, nil, &client.CreateOptions{Parents: true})
	if err == nil || errors.Is(err, client.ErrNodeExists) {
		return nil
	}
	if ambiguous(err) {
		// Creating a directory twice is harmless: look whether it is there.
		if _, ok, serr := c.Exists(ctx, dir); serr == nil && ok {
			return nil
		}
	}
	return fmt.Errorf("recipe: create %s: %w", dir, err)
}

// createSeq creates an ephemeral (or persistent) sequential node named
// with a protected prefix under dir, creating dir when missing. After an
// ambiguous answer it looks for the node by its guid before trying again,
// so it never leaves a second node behind. It returns the node and
// whether an answer was ambiguous (a late duplicate may then still
// appear; owners sweep by guid).
func createSeq(ctx context.Context, c *client.Client, dir, guid, kind string, data []byte, ephemeral bool) (seqNode, client.Stat, bool, error) {
	path := protectedName(dir, guid, kind)
	opts := &client.CreateOptions{Ephemeral: ephemeral, Sequential: true}
	wasAmbiguous := false
	backoff := 20 * time.Millisecond
	for {
		p, st, err := create(c, ctx, path, data, opts)
		if err == nil {
			n, _ := parseSeqNode(p[strings.LastIndexByte(p, '/')+1:])
			return n, st, wasAmbiguous, nil
		}
		switch {
		case ctx.Err() != nil:
			return seqNode{}, client.Stat{}, true, err
		case errors.Is(err, client.ErrNoNode):
			if err := ensureDir(ctx, c, dir); err != nil {
				return seqNode{}, client.Stat{}, wasAmbiguous, err
			}
			continue
		case !ambiguous(err):
			return seqNode{}, client.Stat{}, wasAmbiguous, err
		}
		wasAmbiguous = true
		if n, st, ok, ferr := findByGUID(ctx, c, dir, guid); ferr == nil && ok {
			return n, st, true, nil
		}
		if !ctxtime.Sleep(ctx, backoff) {
			return seqNode{}, client.Stat{}, true, err
		}
		backoff = min(2*backoff, time.Second)
	}
}

// create is Client.Create; a test replaces it to lose answers.
var create = (*client.Client).Create

// findByGUID returns the first node under dir created with guid.
func findByGUID(ctx context.Context, c *client.Client, dir, guid string) (seqNode, client.Stat, bool, error) {
	kids, _, err := c.Children(ctx, dir)
	if err != nil {
		return seqNode{}, client.Stat{}, false, err
	}
	for _, n := range sortedSeqNodes(kids) {
		if n.guid != guid {
			continue
		}
		st, err := c.Stat(ctx, join(dir, n.name))
		if errors.Is(err, client.ErrNoNode) {
			continue
		}
		if err != nil {
			return seqNode{}, client.Stat{}, false, err
		}
		return n, st, true, nil
	}
	return seqNode{}, client.Stat{}, false, nil
}

// deleteByGUID deletes every node under dir created with guid: what an
// abandoned or released attempt leaves, late duplicates included.
func deleteByGUID(ctx context.Context, c *client.Client, dir, guid string) error {
	kids, _, err := c.Children(ctx, dir)
	if errors.Is(err, client.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, n := range sortedSeqNodes(kids) {
		if n.guid == guid {
			if err := deleteNode(ctx, c, join(dir, n.name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteNode deletes path, sending the delete again after an ambiguous
// answer; a node already gone is success.
func deleteNode(ctx context.Context, c *client.Client, path string) error {
	backoff := 20 * time.Millisecond
	for {
		err := c.Delete(ctx, path, client.AnyVersion)
		if err == nil || errors.Is(err, client.ErrNoNode) {
			return nil
		}
		if !ambiguous(err) || !ctxtime.Sleep(ctx, backoff) {
			return err
		}
		backoff = min(2*backoff, time.Second)
	}
}

// cleanupTimeout bounds the clean-up of an abandoned attempt, which runs
// even when the caller's context has ended.
const cleanupTimeout = 5 * time.Second

func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// closedChan is the channel of something not held.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()
