package main

import (
	"context"
	"errors"
	"path"

	"github.com/canopy-coord/canopy/client"
)

// treePage is how many nodes one tree or children call asks for (the
// server's default and a tenth of its cap). Tests lower it to page.
var treePage = 10000

// walker fetches a whole subtree through the tree API, whose answers are
// bounded: where one is truncated it asks again below the cut. The result
// is not one snapshot: parts fetched later may reflect later changes.
type walker struct {
	e     *env
	c     *client.Client
	count int
	prog  *progress
}

// walkTree returns the subtree at p with every descendant listed, in
// the API's order (children sorted by name), none Truncated.
func (e *env) walkTree(ctx context.Context, c *client.Client, p string, prog *progress) (*client.TreeNode, error) {
	w := &walker{e: e, c: c, prog: prog}
	root, err := w.tree(ctx, p)
	if err != nil {
		return nil, err
	}
	w.count = 1
	if err := w.expand(ctx, root); err != nil {
		return nil, err
	}
	return root, nil
}

func (w *walker) tree(ctx context.Context, p string) (*client.TreeNode, error) {
	cctx, cancel := w.e.call(ctx)
	defer cancel()
	return w.c.Tree(cctx, p, 1000, treePage)
}

// expand completes tn's children, then theirs.
func (w *walker) expand(ctx context.Context, tn *client.TreeNode) error {
	if tn.Truncated && len(tn.Children) == 0 {
		// Cut at tn itself: fetch the subtree below it.
		sub, err := w.tree(ctx, tn.Path)
		switch {
		case errors.Is(err, client.ErrNoNode):
			// Deleted since its parent was listed.
			tn.Children, tn.Truncated = []*client.TreeNode{}, false
			return nil
		case err != nil:
			return err
		}
		*tn = *sub
	}
	if tn.Truncated {
		// Cut among tn's children: list the rest, a page at a time.
		after := ""
		if n := len(tn.Children); n > 0 {
			after = path.Base(tn.Children[n-1].Path)
		}
		for {
			cctx, cancel := w.e.call(ctx)
			page, err := w.c.ChildrenStat(cctx, tn.Path, after, treePage)
			cancel()
			if errors.Is(err, client.ErrNoNode) {
				break
			}
			if err != nil {
				return err
			}
			for _, c := range page.Children {
				tn.Children = append(tn.Children, &client.TreeNode{Path: childPath(tn.Path, c.Name), Stat: c.Stat,
					Children: []*client.TreeNode{}, Truncated: c.Stat.NumChildren > 0})
			}
			if after = page.Next; after == "" {
				break
			}
		}
		tn.Truncated = false
	}
	w.count += len(tn.Children)
	w.prog.update(w.count)
	for _, c := range tn.Children {
		if err := w.expand(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func childPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// eachNode calls fn for tn and its descendants, parents first.
func eachNode(tn *client.TreeNode, fn func(*client.TreeNode) error) error {
	if err := fn(tn); err != nil {
		return err
	}
	for _, c := range tn.Children {
		if err := eachNode(c, fn); err != nil {
			return err
		}
	}
	return nil
}
