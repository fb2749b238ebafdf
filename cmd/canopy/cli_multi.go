package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
)

func multiVerb() *verb {
	return &verb{name: "multi", args: "FILE | -", summary: "apply several operations atomically", min: 1, max: 1,
		details: `Reads a JSON request {"ops":[...]} from FILE (or stdin for "-") and
applies it as one transaction (POST /v1/multi): all its ops, or none.
Each op is {"op":"create"|"set"|"delete"|"check", "path", ...} with the
API's fields: "data" (UTF-8 text, or base64 with "encoding":"base64"),
"version", "ephemeral", "sequential", "container", "ttl_ms". Example:
  {"ops":[{"op":"check","path":"/cfg","version":3},
          {"op":"set","path":"/cfg","data":"v2"},
          {"op":"create","path":"/cfg/history-","sequential":true}]}
Prints one line per op. When one fails, nothing is applied and the error
names the op; the exit code is its error's. In JSON: the API's
{"results":[{"op","path","stat"}...]}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				data, err := e.readInput(args[0])
				if err != nil {
					return fmt.Errorf("multi: %w", err)
				}
				var req api.MultiRequest
				if err := api.DecodeStrict(data, &req); err != nil {
					return fmt.Errorf("multi: %s: %v; want {\"ops\":[{\"op\":\"create\",\"path\":\"/a\"}...]}", inputName(args[0]), err)
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				cctx, cancel := e.call(ctx)
				defer cancel()
				res, err := c.Multi(cctx, req.Ops...)
				if err != nil {
					op, path := multiOp(req.Ops, err)
					return e.failAt(op, path, err)
				}
				return e.printMulti(res)
			}
		}}
}

// multiOp names the failed op of a multi for its error, "multi op 2
// (create /a)", and its path.
func multiOp(ops []client.Op, err error) (string, string) {
	var ae *api.Error
	if errors.As(err, &ae) && ae.Index != nil && *ae.Index >= 0 && *ae.Index < len(ops) {
		op := ops[*ae.Index]
		return fmt.Sprintf("multi op %d (%s %s)", *ae.Index, op.Op, op.Path), op.Path
	}
	return "multi", ""
}

func (e *env) printMulti(res []client.OpResult) error {
	if e.json {
		out := api.MultiResponse{Results: make([]api.MultiResult, len(res))}
		for i, r := range res {
			out.Results[i] = api.MultiResult{Op: r.Op, Path: r.Path, Stat: r.Stat}
		}
		return e.printJSON(out)
	}
	for _, r := range res {
		if r.Stat != nil && r.Op == "set" {
			e.printf("%s %s (version %d)\n", r.Op, r.Path, r.Stat.Version)
		} else {
			e.printf("%s %s\n", r.Op, r.Path)
		}
	}
	return nil
}

// readInput reads a file argument, "-" being stdin.
func (e *env) readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(e.stdin)
	}
	return os.ReadFile(name)
}

func inputName(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}
