package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

const helpIntro = `canopy: a coordination service with ZooKeeper's data model over HTTP/JSON.

Usage:
  canopy VERB [flags] [arguments]    flags may come before or after the arguments
  canopy VERB [flags] [arguments] -- COMMAND [ARGS...]
                                     lock, elect, group join: run COMMAND while
                                     holding the lock, leadership, membership
  canopy serve [flags]               run a node (a single-node cluster with no flags;
                                     'canopy serve -h' lists its flags)

Verbs:
`

const helpGlobals = `
Global flags (every verb):
  --server URL   a node of the cluster; repeat it or comma-separate URLs for
                 several (the client moves to the next when one fails)
  -o text|json   output: text for people (default), json for programs:
                 one compact object per line, in the API's shapes
  --timeout D    how long each call to the cluster may take (default 10s);
                 waits for a lock, an item... are bounded by the verb's --wait
  --user USER    authenticate as USER (HTTP Basic): the password comes from
                 CANOPY_PASSWORD, or is asked for when stdin is a terminal
  --cacert FILE  TLS: trust servers whose certificates these CAs (PEM) signed;
                 an https:// server without it is checked against the system's
  --cert FILE, --key FILE
                 TLS: present this client certificate (PEM) and its key; the
                 server gives the identity x509:<subject DN>
                 With any of the three, a bare host:port server means https.

Environment:
  CANOPY_SERVERS  comma-separated server URLs, used when no --server is given
                  (CANOPY_SERVER, a single URL, is read too); default ` + "http://127.0.0.1:8900" + `
  CANOPY_USER     the user, when no --user is given
  CANOPY_PASSWORD the password of the user (never a flag: flags show in ps)
  CANOPY_CACERT, CANOPY_CERT, CANOPY_KEY
                  the files of --cacert, --cert and --key, when not given

`

const helpOutro = `
Run 'canopy help VERB' for a verb's flags and details; docs/cli.md has
examples of each.
`

func printHelp(w io.Writer) {
	io.WriteString(w, helpIntro)
	for _, v := range verbs() {
		fmt.Fprintf(w, "  %-18s %s\n", v.name, v.summary)
	}
	io.WriteString(w, helpGlobals)
	io.WriteString(w, exitCodesHelp)
	io.WriteString(w, helpOutro)
}

func synopsis(v *verb) string {
	s := "canopy " + v.name
	if v.args != "" {
		s += " " + v.args
	}
	return s
}

// ownFlags is v's FlagSet without the global flags.
func ownFlags(v *verb) *flag.FlagSet {
	fs := flag.NewFlagSet("canopy "+v.name, flag.ContinueOnError)
	v.setup(fs)
	return fs
}

func printFlags(w io.Writer, v *verb) {
	fs := ownFlags(v)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	io.WriteString(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func printVerbHelp(w io.Writer, v *verb) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", synopsis(v), v.details)
	printFlags(w, v)
	fmt.Fprintln(w, "\nGlobal flags: --server URL, -o text|json, --timeout D, --user USER, --cacert FILE,\n--cert FILE, --key FILE; see 'canopy help'.")
}

func printGroupHelp(w io.Writer, group string) {
	fmt.Fprintf(w, "usage:\n")
	for _, v := range verbs() {
		if v.group() == group {
			fmt.Fprintf(w, "  %-50s %s\n", synopsis(v), v.summary)
		}
	}
	fmt.Fprintf(w, "\nRun 'canopy help %s VERB' for details.\n", group)
}

// printShortUsage follows a usage error on stderr: the synopsis and flags
// of the verb at fault, not the whole manual.
func printShortUsage(w io.Writer, ue *usageError) {
	switch {
	case ue.verb != nil:
		fmt.Fprintf(w, "usage: %s\n", synopsis(ue.verb))
		printFlags(w, ue.verb)
		fmt.Fprintf(w, "\nRun 'canopy help %s' for details.\n", ue.verb.name)
	case ue.group != "":
		printGroupHelp(w, ue.group)
	default:
		fmt.Fprintln(w, "usage: canopy VERB [flags] [arguments]; 'canopy help' lists the verbs")
	}
}

func helpVerb() *verb {
	return &verb{name: "help", args: "[VERB]", summary: "show this help, or a verb's", max: 2,
		details: `Without a verb, lists the verbs, global flags, environment and exit
codes. With one, shows its usage, flags and details.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) == 0 {
					printHelp(e.stdout)
					return nil
				}
				if args[0] == "serve" {
					fmt.Fprintln(e.stdout, "usage: canopy serve [flags]\n\nRuns a node; 'canopy serve -h' lists its flags.")
					return nil
				}
				v, rest, err := findVerb(args)
				if err != nil {
					if ue, ok := err.(*usageError); ok && ue.group != "" && len(args) == 1 {
						printGroupHelp(e.stdout, ue.group)
						return nil
					}
					return err
				}
				if len(rest) > 0 {
					return e.usage("help takes one verb")
				}
				printVerbHelp(e.stdout, v)
				return nil
			}
		}}
}

func versionVerb() *verb {
	return &verb{name: "version", summary: "print the version", max: 0,
		details: `Prints canopy's version. In JSON: {"version"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				if e.json {
					return e.printJSON(struct {
						Version string `json:"version"`
					}{version})
				}
				e.printf("canopy %s\n", version)
				return nil
			}
		}}
}

// verbWords lists the first words of the verbs, groups once.
func verbWords() []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range verbs() {
		w, _, _ := strings.Cut(v.name, " ")
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return append(out, "serve")
}
