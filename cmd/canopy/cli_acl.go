package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
)

// The verbs of ACLs and identity: getacl, setacl, whoami, digest; and
// create's --acl.

// aclFlag is --acl: zkCli's ACL list (scheme:id:perms, comma-separated),
// repeatable.
type aclFlag struct{ acl []api.ACL }

func (f *aclFlag) String() string {
	var s []string
	for _, a := range f.acl {
		s = append(s, a.String())
	}
	return strings.Join(s, ",")
}

func (f *aclFlag) Set(v string) error {
	acl, err := api.ParseACLList(v)
	if err != nil {
		return aclSyntaxError(err)
	}
	f.acl = append(f.acl, acl...)
	return nil
}

// aclSyntaxError is a parse error of an ACL list, without the API code
// that api's parser puts in front (it is the command line that is wrong).
func aclSyntaxError(err error) error {
	if ae, ok := err.(*api.Error); ok {
		return fmt.Errorf("%s (digest ids are user:base64(sha1(user:password)): 'canopy digest USER' prints one)", ae.Message)
	}
	return err
}

func getACLVerb() *verb {
	return &verb{name: "getacl", args: "[-s] PATH", summary: "print a node's ACL", min: 1, max: 1,
		details: `Prints PATH's ACL as zkCli's getAcl does: for each entry, its scheme and
id ('world,'anyone) on one line, then ": " and its perms (cdrwa) on the
next. With -s, the stat follows, as 'canopy stat' prints it (aversion is
the version 'setacl -v' checks). Reading an ACL needs READ or ADMIN on
the node; without ADMIN, digest ids are masked (alice:x), as ZooKeeper
masks them. In JSON: the API's {"path","acl","stat"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			stats := fs.Bool("s", false, "print the stat after the ACL")
			return func(ctx context.Context, e *env, args []string) error {
				var res api.ACLResult
				err := e.oneCall(ctx, "getacl "+args[0], func(ctx context.Context, c *client.Client) (err error) {
					res, err = c.GetACL(ctx, args[0])
					return err
				})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(res)
				}
				writeACL(e.stdout, res.ACL)
				if *stats {
					writeStat(e.stdout, res.Stat)
				}
				return nil
			}
		}}
}

// writeACL writes an ACL as zkCli's getAcl: each entry's Id as jute's
// toString renders it (a CSV record ending with a newline), then ": "
// and the perms.
func writeACL(w io.Writer, acl []api.ACL) {
	for _, a := range acl {
		fmt.Fprintf(w, "%s,%s\n: %s\n", juteCSV(a.Scheme), juteCSV(a.ID), a.Perms)
	}
}

// juteCSV is a string as jute's CSV archive writes it: a quote, then the
// string with its separators escaped (an x509 DN keeps its commas so).
func juteCSV(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString("%00")
		case '\n':
			b.WriteString("%0A")
		case '\r':
			b.WriteString("%0D")
		case ',':
			b.WriteString("%2C")
		case '}':
			b.WriteString("%7D")
		case '%':
			b.WriteString("%25")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func setACLVerb() *verb {
	return &verb{name: "setacl", args: "[-s] [-v AVERSION] PATH ACL[,ACL...]", summary: "replace a node's ACL", min: 2, max: 2,
		details: `Replaces PATH's ACL with the list given in zkCli's syntax, entries
scheme:id:perms separated by commas:
  canopy setacl /app "digest:alice:$(canopy digest alice | cut -d: -f2):cdrwa,world:anyone:r"
Schemes: world:anyone, auth: (every authenticated identity of the
caller), digest:USER:HASH (HASH as 'canopy digest' prints it),
ip:ADDRESS[/BITS], x509:SUBJECT-DN. Perms are letters of cdrwa (create,
delete, read, write, admin) or ZooKeeper's number (31). Changing an ACL
needs ADMIN on the node (exit 9, NoAuth, otherwise). With -v, only if the
node's ACL version (its stat's aversion) is AVERSION (exit 5, BadVersion,
otherwise). Prints the new aversion; with -s, the stat. ACLs are per
node: children keep theirs. In JSON: the API's {"path","acl","stat"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			stats := fs.Bool("s", false, "print the stat of the node afterwards")
			aversion := fs.Int("v", -1, "only if the node's ACL version is `AVERSION` (-1: any)")
			return func(ctx context.Context, e *env, args []string) error {
				v, err := checkVersion(e, *aversion)
				if err != nil {
					return e.usage("-v must be an ACL version (0 to 2147483647), or -1 for any")
				}
				acl, err := api.ParseACLList(args[1])
				if err != nil {
					return e.usage("%v", aclSyntaxError(err))
				}
				var res api.ACLResult
				err = e.oneCall(ctx, "setacl "+args[0], func(ctx context.Context, c *client.Client) (err error) {
					res, err = c.SetACL(ctx, args[0], acl, v)
					return err
				})
				if err != nil {
					return err
				}
				switch {
				case e.json:
					return e.printJSON(res)
				case *stats:
					writeStat(e.stdout, res.Stat)
				default:
					e.printf("updated the ACL of %s (aversion %d)\n", args[0], res.Stat.Aversion)
				}
				return nil
			}
		}}
}

func whoamiVerb() *verb {
	return &verb{name: "whoami", summary: "print the identities the cluster gives this caller", max: 0,
		details: `Prints what the server takes the caller for, as zkCli's whoami does: a
header line, then one "scheme: id" line per identity: ip: the client's
address (always), digest: the --user's (user:hash), x509: the subject of
a client certificate (--cert), super: the super user. These are the ids
an ACL names. In JSON: the API's {"identities","authenticated","super","user"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				var who api.WhoAmI
				err := e.oneCall(ctx, "whoami", func(ctx context.Context, c *client.Client) (err error) {
					who, err = c.WhoAmI(ctx)
					return err
				})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(who)
				}
				e.printf("Auth scheme: User\n")
				for _, id := range who.Identities {
					e.printf("%s: %s\n", id.Scheme, id.ID)
				}
				return nil
			}
		}}
}

func digestVerb() *verb {
	return &verb{name: "digest", args: "USER [PASSWORD]", summary: "print the digest id of a user, for ACLs", min: 1, max: 2,
		details: `Prints USER:base64(sha1(USER:PASSWORD)), the id that a digest ACL names
and that the server gives a caller who authenticates as USER with
PASSWORD (ZooKeeper's DigestAuthenticationProvider). Without PASSWORD,
asks for it on a terminal, or reads one line of stdin (a password given
as an argument stays in the shell's history). Needs no server.
  canopy setacl /app "digest:$(canopy digest alice):cdrwa"
In JSON: {"scheme":"digest","id"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				user := args[0]
				if user == "" || strings.Contains(user, ":") {
					return e.usage("USER must be non-empty and without a colon")
				}
				var pw string
				switch {
				case len(args) == 2:
					pw = args[1]
				case isTerminal(e.stdin):
					var err error
					if pw, err = e.askLine(fmt.Sprintf("Password for %s: ", user)); err != nil {
						return err
					}
				default:
					var err error
					if pw, err = readLine(e.stdin); err != nil {
						return fmt.Errorf("digest: reading the password from stdin: %w", err)
					}
				}
				id := api.Identity{Scheme: "digest", ID: api.Digest(user, pw)}
				if e.json {
					return e.printJSON(id)
				}
				e.printf("%s\n", id.ID)
				return nil
			}
		}}
}
