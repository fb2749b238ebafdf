package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/canopy-coord/canopy/client"
)

// Output. Text is for people and stays stable: one value per line or
// aligned columns, no decoration. JSON is one compact object per line,
// in the API's shapes where the API has one, so that streams (watch) and
// single answers read the same way with jq.

// printJSON writes v as one line of JSON.
func (e *env) printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(append(b, '\n'))
	return err
}

func (e *env) printf(format string, args ...any) {
	fmt.Fprintf(e.stdout, format, args...)
}

// writeStat writes a Stat as zkCli's stat does: one "field = value" per
// line, in the API's field names, times in milliseconds and readable.
func writeStat(w io.Writer, s client.Stat) {
	fmt.Fprintf(w, "czxid = %d\n", s.Czxid)
	fmt.Fprintf(w, "mzxid = %d\n", s.Mzxid)
	fmt.Fprintf(w, "pzxid = %d\n", s.Pzxid)
	fmt.Fprintf(w, "ctime = %s\n", msTime(s.Ctime))
	fmt.Fprintf(w, "mtime = %s\n", msTime(s.Mtime))
	fmt.Fprintf(w, "version = %d\n", s.Version)
	fmt.Fprintf(w, "cversion = %d\n", s.Cversion)
	fmt.Fprintf(w, "aversion = %d\n", s.Aversion)
	fmt.Fprintf(w, "ephemeralOwner = %s\n", s.EphemeralOwner)
	fmt.Fprintf(w, "dataLength = %d\n", s.DataLength)
	fmt.Fprintf(w, "numChildren = %d\n", s.NumChildren)
}

// msTime is milliseconds since the epoch, followed by the local time.
func msTime(ms int64) string {
	if ms == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", ms, readableTime(ms))
}

func readableTime(ms int64) string {
	return time.UnixMilli(ms).Format("2006-01-02 15:04:05.000 MST")
}

// statTable writes one row per node: its name (or path) and the Stat
// fields one looks at when listing. The varying-width owner comes last so
// the other columns line up whatever the sessions' ids.
type statTable struct {
	tw *tabwriter.Writer
}

func newStatTable(w io.Writer, first string) *statTable {
	t := &statTable{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	fmt.Fprintf(t.tw, "%s\tVERSION\tCVERSION\tDATALENGTH\tNUMCHILDREN\tMTIME\tEPHEMERALOWNER\n", first)
	return t
}

func (t *statTable) row(name string, s client.Stat) {
	owner := "-"
	if s.EphemeralOwner != 0 {
		owner = s.EphemeralOwner.String()
	}
	mtime := "-"
	if s.Mtime != 0 {
		mtime = readableTime(s.Mtime)
	}
	fmt.Fprintf(t.tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", name, s.Version, s.Cversion, s.DataLength, s.NumChildren, mtime, owner)
}

func (t *statTable) flush() { t.tw.Flush() }

// eventLine is an event in text: "NodeChildrenChanged /a added x zxid=12".
func eventLine(ev client.Event) string {
	var b strings.Builder
	b.WriteString(string(ev.Type))
	b.WriteByte(' ')
	b.WriteString(ev.Path)
	if ev.Change != "" {
		fmt.Fprintf(&b, " %s %s", ev.Change, ev.Child)
	}
	if ev.Zxid != 0 {
		fmt.Fprintf(&b, " zxid=%d", ev.Zxid)
	}
	return b.String()
}

// printEvent writes one event, as a line of text or of JSON.
func (e *env) printEvent(ev client.Event) error {
	if e.json {
		return e.printJSON(ev)
	}
	_, err := fmt.Fprintln(e.stdout, eventLine(ev))
	return err
}

// endLine ends raw data written to a terminal, or followed by more
// output, with a newline when it has none.
func endLine(w io.Writer, data []byte) {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		io.WriteString(w, "\n")
	}
}

// durationMs is a millisecond count as a Go duration string ("10s").
func durationMs(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).String()
}
