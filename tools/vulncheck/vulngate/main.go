// Command vulngate reads govulncheck's JSON output on stdin and decides
// whether the scanned code passes: it fails on an advisory whose vulnerable
// code is called (a symbol-level finding), unless the accepted file names it
// and no fixed version exists yet. An advisory only imported or only required
// is reported and does not fail: govulncheck found no call path to it.
//
//	govulncheck -format json -db file:///... ./... | vulngate -accepted accepted.txt
//
// Exit status: 0 pass, 1 a called advisory, 2 unreadable input or usage.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

func main() {
	acceptedFile := flag.String("accepted", "", "file of accepted advisories: an ID, then why, one a line; # starts a comment")
	flag.Parse()
	accepted, err := readAccepted(*acceptedFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	failed, err := gate(os.Stdin, accepted, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// message is the part of govulncheck's JSON protocol (v1.0.0) the gate reads.
type message struct {
	Config *struct {
		GoVersion      string     `json:"go_version"`
		ScanLevel      string     `json:"scan_level"`
		DBLastModified *time.Time `json:"db_last_modified"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
			Receiver string `json:"receiver"`
		} `json:"trace"`
	} `json:"finding"`
}

// Levels of a finding, from govulncheck's traces: the first frame names a
// function when the code calls the vulnerable symbol, a package when it only
// imports it, and only the module when it only requires it.
const (
	required = iota
	imported
	called
)

var levelNames = [...]string{required: "required, not imported", imported: "imported, not called", called: "called"}

// advisory is what the gate knows of one advisory after reading the stream.
type advisory struct {
	id, module, version, fixed, symbol string
	level                              int
}

// gate reads the stream from r, writes the report to w and reports whether
// any called advisory is not accepted.
func gate(r io.Reader, accepted map[string]string, w io.Writer) (failed bool, err error) {
	scan, err := readScan(r, w)
	if err != nil {
		return false, err
	}
	if scan.level != "symbol" {
		return false, fmt.Errorf("the scan ran at %q level; only a symbol-level scan tells called from imported", scan.level)
	}
	return report(scan, accepted, w), nil
}

// scan is what the gate read of govulncheck's stream.
type scan struct {
	level     string               // the scan level, "symbol" for a usable scan
	found     map[string]*advisory // by advisory id
	summaries map[string]string    // by advisory id
}

// readScan reads govulncheck's stream from r, writing the scan's
// configuration to w as it comes.
func readScan(r io.Reader, w io.Writer) (scan, error) {
	s := scan{found: map[string]*advisory{}, summaries: map[string]string{}}
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return s, nil
		} else if err != nil {
			return s, fmt.Errorf("reading govulncheck's JSON: %w", err)
		}
		switch {
		case m.Config != nil:
			s.level = m.Config.ScanLevel
			modified := "unknown"
			if t := m.Config.DBLastModified; t != nil {
				modified = t.UTC().Format(time.DateOnly)
			}
			fmt.Fprintf(w, "scanned with %s, database of %s, %s level\n", m.Config.GoVersion, modified, s.level)
		case m.OSV != nil:
			s.summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			s.record(m)
		}
	}
}

// record notes a finding of m's advisory, keeping the highest level seen
// and the first symbol called.
func (s scan) record(m message) {
	f, top := m.Finding, m.Finding.Trace[0]
	a := s.found[f.OSV]
	if a == nil {
		a = &advisory{id: f.OSV, module: top.Module, version: top.Version, fixed: f.FixedVersion}
		s.found[f.OSV] = a
	}
	level, symbol := required, ""
	switch {
	case top.Function != "":
		level, symbol = called, strings.TrimPrefix(top.Receiver+"."+top.Function, ".")
		symbol = top.Package + "." + symbol
	case top.Package != "":
		level = imported
	}
	a.level = max(a.level, level)
	if a.symbol == "" {
		a.symbol = symbol
	}
}

// report writes each advisory of s with its verdict to w, then the
// totals, and reports whether any called advisory is not accepted.
func report(s scan, accepted map[string]string, w io.Writer) (failed bool) {
	ids := make([]string, 0, len(s.found))
	for id := range s.found {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var levels [3]int
	nFailed, nAccepted := 0, 0
	for _, id := range ids {
		a := s.found[id]
		levels[a.level]++
		verdict := levelNames[a.level]
		if a.level == called {
			reason, ok := accepted[id]
			switch {
			case ok && a.fixed == "":
				verdict = "called, accepted while no fix exists: " + reason
				nAccepted++
			case ok:
				verdict = "called, FAILS: accepted, but " + a.fixed + " fixes it now: upgrade"
				nFailed++
			default:
				verdict = "called, FAILS"
				nFailed++
			}
		}
		fixed := a.fixed
		if fixed == "" {
			fixed = "no fix"
		}
		fmt.Fprintf(w, "  %s %s@%s (%s): %s\n      %s\n", a.id, a.module, a.version, fixed, s.summaries[id], verdict)
		if a.symbol != "" {
			fmt.Fprintf(w, "      e.g. %s\n", a.symbol)
		}
	}
	for id := range accepted {
		if s.found[id] == nil {
			fmt.Fprintf(w, "  note: %s is accepted but no longer found; remove it from the accepted list\n", id)
		}
	}
	fmt.Fprintf(w, "%d advisories: %d called and not accepted, %d called and accepted, %d imported but not called, %d required but not imported\n",
		len(ids), nFailed, nAccepted, levels[imported], levels[required])
	return nFailed > 0
}

// readAccepted reads lines of "ID reason"; blank lines and # comments are
// skipped. Every entry must give a reason.
func readAccepted(path string) (map[string]string, error) {
	accepted := map[string]string{}
	if path == "" {
		return accepted, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: %s has no reason", path, n, id)
		}
		accepted[id] = strings.TrimSpace(reason)
	}
	return accepted, sc.Err()
}
