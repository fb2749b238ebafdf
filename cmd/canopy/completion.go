package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Shell completion scripts, generated from the verb table so that they
// follow its verbs and flags. Node paths complete by asking the cluster
// ('canopy ls' of the parent, with a short timeout).

func completionVerb() *verb {
	return &verb{name: "completion", args: "bash|zsh", summary: "print a shell completion script", min: 1, max: 1,
		details: `Prints a completion script for bash or zsh: verbs, flags, and node paths
(completed by listing the cluster named by CANOPY_SERVERS, as CANOPY_USER
with CANOPY_PASSWORD, and CANOPY_CACERT... for TLS: completion never asks
for a password). Load it with
  source <(canopy completion bash)      # in ~/.bashrc
  source <(canopy completion zsh)       # in ~/.zshrc, after compinit`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				switch args[0] {
				case "bash":
					writeBashCompletion(e.stdout)
				case "zsh":
					writeZshCompletion(e.stdout)
				default:
					return e.usage("completion for bash or zsh, not %q", args[0])
				}
				return nil
			}
		}}
}

// completionFlag is a flag as a shell offers it.
type completionFlag struct {
	name  string // "-s", "--server"
	usage string
	value bool // takes a value
}

// verbFlags lists v's flags, global ones included, sorted.
func verbFlags(v *verb) []completionFlag {
	fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
	v.setup(fs)
	addGlobals(fs, v)
	var out []completionFlag
	fs.VisitAll(func(f *flag.Flag) {
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		usage, _, _ := strings.Cut(f.Usage, " (")
		out = append(out, completionFlag{name: name, usage: usage, value: !isBoolFlag(f)})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// valueFlags lists every flag, of any verb, that takes a value: after
// one of them comes its value, not a flag or a path.
func valueFlags() []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range verbs() {
		for _, f := range verbFlags(v) {
			if f.value && !seen[f.name] {
				seen[f.name] = true
				out = append(out, f.name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// commandVerbs is a case pattern of the verbs that run a command given
// after "--", each quoted for the shell.
func commandVerbs(quote func(string) string) string {
	var out []string
	for _, v := range verbs() {
		if v.command {
			out = append(out, quote(v.name))
		}
	}
	return strings.Join(out, "|")
}

// groups maps each two-word verb's first word to its second words.
func groups() (names []string, subs map[string][]string) {
	subs = map[string][]string{}
	for _, v := range verbs() {
		if g := v.group(); g != "" {
			if subs[g] == nil {
				names = append(names, g)
			}
			_, sub, _ := strings.Cut(v.name, " ")
			subs[g] = append(subs[g], sub)
		}
	}
	return names, subs
}

func writeBashCompletion(w io.Writer) {
	names, subs := groups()
	fmt.Fprintf(w, `# bash completion for canopy. Load it with
#   source <(canopy completion bash)
# or save it as /etc/bash_completion.d/canopy.

_canopy_paths() {
    local cur="$1" dir prefix kids
    dir="${cur%%/*}"
    prefix="$dir/"
    [[ -z "$dir" ]] && dir=/ && prefix=/
    kids=$(canopy ls --timeout 2s -- "$dir" </dev/null 2>/dev/null) || return
    local IFS=$'\n'
    COMPREPLY=( $(compgen -P "$prefix" -W "$kids" -- "${cur##*/}") )
    compopt -o nospace 2>/dev/null
}

_canopy() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    if (( COMP_CWORD == 1 )); then
        COMPREPLY=( $(compgen -W "%s" -- "$cur") )
        return
    fi
    local verb="${COMP_WORDS[1]}"
    case "$verb" in
`, strings.Join(verbWords(), " "))
	for _, g := range names {
		fmt.Fprintf(w, `    %s)
        if (( COMP_CWORD == 2 )); then
            COMPREPLY=( $(compgen -W "%s" -- "$cur") )
            return
        fi
        verb="$verb ${COMP_WORDS[2]}" ;;
`, g, strings.Join(subs[g], " "))
	}
	fmt.Fprintf(w, `    completion)
        COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") )
        return ;;
    help)
        COMPREPLY=( $(compgen -W "%s" -- "$cur") )
        return ;;
    esac
    case "$verb" in
    %s)
        # After "--" comes the command to run, then its arguments.
        local i
        for (( i = 2; i < COMP_CWORD; i++ )); do
            if [[ "${COMP_WORDS[i]}" == "--" ]]; then
                if (( i == COMP_CWORD - 1 )); then
                    COMPREPLY=( $(compgen -c -- "$cur") )
                else
                    COMPREPLY=( $(compgen -f -- "$cur") )
                fi
                return
            fi
        done ;;
    esac
    case "$prev" in
    -o|--output)
        COMPREPLY=( $(compgen -W "text json" -- "$cur") )
        return ;;
    -f|--cacert|--cert|--key)
        COMPREPLY=( $(compgen -f -- "$cur") )
        return ;;
    %s)
        return ;;
    esac
    local flags=""
    case "$verb" in
`, strings.Join(verbWords(), " "), commandVerbs(strconv.Quote), strings.Join(valueFlags(), "|"))
	for _, v := range verbs() {
		var fl []string
		for _, f := range verbFlags(v) {
			fl = append(fl, f.name)
		}
		fmt.Fprintf(w, "    %q) flags=%q ;;\n", v.name, strings.Join(fl, " "))
	}
	io.WriteString(w, `    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
    elif [[ "$cur" == /* ]]; then
        _canopy_paths "$cur"
    else
        COMPREPLY=( $(compgen -f -- "$cur") )
    fi
}

complete -F _canopy canopy
`)
}

// zshQuote quotes s for zsh in single quotes.
func zshQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// zshItem is a "name:description" item of _describe, which splits on
// the first unescaped colon.
func zshItem(name, desc string) string {
	esc := func(s string) string { return strings.ReplaceAll(s, ":", `\:`) }
	return zshQuote(esc(name) + ":" + esc(desc))
}

func writeZshCompletion(w io.Writer) {
	names, subs := groups()
	io.WriteString(w, `#compdef canopy
# zsh completion for canopy. Load it with
#   source <(canopy completion zsh)
# after compinit, or save it as _canopy in a directory of $fpath.

_canopy_paths() {
    local dir=${PREFIX%/*}
    [[ -z $dir ]] && dir=/
    local -a kids
    kids=(${(f)"$(canopy ls --timeout 2s -- $dir </dev/null 2>/dev/null)"})
    compset -P '*/'
    compadd -S '' -- $kids
}

_canopy() {
    local -a verbs flags
    verbs=(
`)
	seen := map[string]bool{}
	for _, v := range verbs() {
		word, summary := v.name, v.summary
		if g := v.group(); g != "" {
			word, summary = g, strings.Join(subs[g], ", ")
		}
		if !seen[word] {
			seen[word] = true
			fmt.Fprintf(w, "        %s\n", zshItem(word, summary))
		}
	}
	fmt.Fprintf(w, `        'serve:run a node'
    )
    if (( CURRENT == 2 )); then
        _describe -t commands 'canopy verb' verbs
        return
    fi
    local verb=$words[2]
    case $verb in
`)
	for _, g := range names {
		fmt.Fprintf(w, `    (%s)
        if (( CURRENT == 3 )); then
            compadd -- %s
            return
        fi
        verb="$verb $words[3]" ;;
`, g, strings.Join(subs[g], " "))
	}
	fmt.Fprintf(w, `    (completion)
        compadd -- bash zsh
        return ;;
    (help)
        compadd -- %s
        return ;;
    esac
    case $verb in
    (%s)
        # After "--" comes a command line of its own.
        local i
        for (( i = 3; i < CURRENT; i++ )); do
            if [[ $words[i] == -- ]]; then
                shift $i words
                (( CURRENT -= i ))
                _normal
                return
            fi
        done ;;
    esac
    case $words[CURRENT-1] in
    (-o|--output)
        compadd -- text json
        return ;;
    (-f|--cacert|--cert|--key)
        _files
        return ;;
    (%s)
        return ;;
    esac
    case $verb in
`, strings.Join(verbWords(), " "), commandVerbs(zshQuote), strings.Join(valueFlags(), "|"))
	for _, v := range verbs() {
		var fl []string
		for _, f := range verbFlags(v) {
			fl = append(fl, zshItem(f.name, f.usage))
		}
		fmt.Fprintf(w, "    (%s) flags=(%s) ;;\n", zshQuote(v.name), strings.Join(fl, " "))
	}
	io.WriteString(w, `    esac
    if [[ $PREFIX == -* ]]; then
        _describe -t flags 'flag' flags
    elif [[ $PREFIX == /* ]]; then
        _canopy_paths
    else
        _files
    fi
}

if [[ $funcstack[1] == _canopy ]]; then
    _canopy "$@"
else
    compdef _canopy canopy
fi
`)
}
