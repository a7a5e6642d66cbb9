// Command checkdashboard checks Crier's Grafana dashboard and Prometheus alert
// rules against the metrics Crier exposes: every PromQL expression must parse
// (with Prometheus's own parser) and may only select metrics from the list
// below, and every panel must use the ${DS_PROMETHEUS} data source and carry a
// title, a description and a unit. With -metrics-src it also checks that each
// crier_* metric is still defined in Crier's code, so a renamed metric fails
// here instead of leaving an empty panel.
//
// Usage:
//
//	checkdashboard [-rules alerts.yaml]... [-metrics-src internal/metrics] dashboard.json
//
// scripts/check-alerts.sh builds and runs it.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// kind is how a metric is exposed, which decides the series names a query may use.
type kind int

const (
	plain     kind = iota // gauge or counter: the name itself
	histogram             // name_bucket, name_sum, name_count
	summary               // name (with quantile), name_sum, name_count
)

// metrics are the series Crier exposes at GET /metrics, by exposed name.
var metrics = map[string]kind{
	// Crier's own (internal/metrics).
	"crier_publication_lateness_seconds":   histogram,
	"crier_broadcasts":                     plain,
	"crier_outbox_backlog":                 plain,
	"crier_outbox_oldest_age_seconds":      plain,
	"crier_relay_events_total":             plain,
	"crier_relay_errors_total":             plain,
	"crier_consumer_lag":                   plain,
	"crier_sse_connections":                plain,
	"crier_sse_events_sent_total":          plain,
	"crier_sse_slow_clients_dropped_total": plain,
	"crier_http_requests_total":            plain,
	"crier_http_request_duration_seconds":  histogram,
	"crier_due_applied_total":              plain,
	"crier_due_lateness_seconds":           histogram,
	"crier_retention_deleted_rows_total":   plain,
	"crier_retention_oldest_age_seconds":   plain,
	"crier_retention_horizon_seconds":      plain,
	"crier_dead_letters_total":             plain,
	"crier_dead_letters_pending":           plain,
	// The Temporal Go SDK's, through tally's Prometheus reporter with the
	// SDK's Prometheus naming scope: counters get _total, timers _seconds and
	// are summaries (tally's default timer type).
	"temporal_workflow_task_schedule_to_start_latency_seconds": summary,
	"temporal_activity_execution_failed_total":                 plain,
	"temporal_local_activity_execution_failed_total":           plain,
	"temporal_request_failure_total":                           plain,
	"temporal_worker_task_slots_available":                     plain,
	"temporal_workflow_completed_total":                        plain,
	"temporal_workflow_failed_total":                           plain,
	"temporal_sticky_cache_size":                               plain,
	// Prometheus's own: scrape health and the alerts it evaluates.
	"up":     plain,
	"ALERTS": plain,
}

// allowed reports whether a query may select the series name, and the
// metric it belongs to.
func allowed(name string) (string, bool) {
	if _, ok := metrics[name]; ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(name, suffix)
		if !found {
			continue
		}
		k, known := metrics[base]
		if !known {
			continue
		}
		switch k {
		case histogram:
			return base, true
		case summary:
			if suffix != "_bucket" {
				return base, true
			}
		case plain:
			// A gauge or counter has no suffixed series.
		}
	}
	return "", false
}

// grafanaVars are the Grafana variables a dashboard query may use, replaced by
// a value of the same type before parsing.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "${__rate_interval}", "5m",
	"$__interval", "1m", "${__interval}", "1m",
	"$__range", "1h", "${__range}", "1h",
)

type checker struct {
	parser parser.Parser
	used   map[string]bool
	errs   []error
}

func (c *checker) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// expr parses one PromQL expression and checks the metrics it selects.
func (c *checker) expr(where, q string) {
	if strings.TrimSpace(q) == "" {
		c.fail("%s: empty expression", where)
		return
	}
	e, err := c.parser.ParseExpr(grafanaVars.Replace(q))
	if err != nil {
		c.fail("%s: %v\n    %s", where, err, q)
		return
	}
	if rest := regexp.MustCompile(`\$\{?[A-Za-z_]\w*`).FindString(grafanaVars.Replace(q)); rest != "" {
		c.fail("%s: unknown Grafana variable %s", where, rest)
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			c.fail("%s: selector %s names no metric", where, vs)
			return nil
		}
		base, ok := allowed(name)
		if !ok {
			c.fail("%s: %s is not a metric Crier exposes", where, name)
			return nil
		}
		c.used[base] = true
		return nil
	})
}

const dsUID = "${DS_PROMETHEUS}"

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int                      `json:"id"`
	Type        string                   `json:"type"`
	Title       string                   `json:"title"`
	Description string                   `json:"description"`
	Datasource  *datasource              `json:"datasource"`
	GridPos     struct{ H, W, X, Y int } `json:"gridPos"`
	Targets     []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Panels []panel `json:"panels"`
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name       string      `json:"name"`
			Expr       string      `json:"expr"`
			Datasource *datasource `json:"datasource"`
		} `json:"list"`
	} `json:"annotations"`
}

// dashboard checks a Grafana dashboard file: its identity and data source
// variable, its annotations, and its panels.
func (c *checker) dashboard(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		c.fail("%v", err)
		return
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		c.fail("%s: not valid JSON: %v", path, err)
		return
	}
	c.header(path, d)
	for _, a := range d.Annotations.List {
		if a.Expr == "" {
			continue
		}
		if a.Datasource == nil || a.Datasource.UID != dsUID {
			c.fail("%s: annotation %q: datasource must be %s", path, a.Name, dsUID)
		}
		c.expr(fmt.Sprintf("%s: annotation %q", path, a.Name), a.Expr)
	}

	var all []panel
	for _, p := range d.Panels {
		all = append(all, p)
		all = append(all, p.Panels...) // a collapsed row holds its panels
	}
	ids := map[int]string{}
	cells := map[[2]int]string{} // grid cells taken, to catch overlaps
	queries := 0
	for _, p := range all {
		where := fmt.Sprintf("%s: panel %d %q", path, p.ID, p.Title)
		c.place(where, p, ids, cells)
		if p.Type != "row" {
			queries += c.panel(where, p)
		}
	}
	fmt.Printf("%s: %d panels, %d queries\n", path, len(all), queries)
}

// header checks the dashboard's uid, schema version and data source variable.
func (c *checker) header(path string, d dashboard) {
	if d.UID != "crier-overview" {
		c.fail("%s: uid is %q, want crier-overview", path, d.UID)
	}
	if d.SchemaVersion < 36 {
		c.fail("%s: schemaVersion %d predates Grafana 10 (want >= 36)", path, d.SchemaVersion)
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "DS_PROMETHEUS" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
	}
	if !hasDS {
		c.fail("%s: no datasource variable DS_PROMETHEUS (type datasource, query prometheus)", path)
	}
}

// place checks that panel p's id is not in ids (the panels placed so far,
// by id) and that it sits inside the 24-column grid without overlapping a
// cell of cells (the cells taken so far); then adds p to both.
func (c *checker) place(where string, p panel, ids map[int]string, cells map[[2]int]string) {
	if prev, dup := ids[p.ID]; dup {
		c.fail("%s: id also used by %q", where, prev)
	}
	ids[p.ID] = p.Title
	g := p.GridPos
	if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
		c.fail("%s: gridPos %+v outside the 24-column grid", where, g)
	}
	for x := g.X; x < g.X+g.W; x++ {
		for y := g.Y; y < g.Y+g.H; y++ {
			if other, taken := cells[[2]int{x, y}]; taken {
				c.fail("%s: overlaps panel %q", where, other)
				x, y = g.X+g.W, g.Y+g.H
			} else {
				cells[[2]int{x, y}] = p.Title
			}
		}
	}
}

// panel checks a panel other than a row: its text, unit, data source and
// queries. It returns how many queries the panel has.
func (c *checker) panel(where string, p panel) int {
	if p.Title == "" || strings.TrimSpace(p.Description) == "" {
		c.fail("%s: needs a title and a description (what good looks like)", where)
	}
	if p.FieldConfig.Defaults.Unit == "" {
		c.fail("%s: needs a unit (fieldConfig.defaults.unit)", where)
	}
	if p.Datasource == nil || p.Datasource.UID != dsUID {
		c.fail("%s: datasource must be %s", where, dsUID)
	}
	if len(p.Targets) == 0 {
		c.fail("%s: no queries", where)
	}
	for _, t := range p.Targets {
		if t.Datasource != nil && t.Datasource.UID != dsUID {
			c.fail("%s: query %s: datasource must be %s", where, t.RefID, dsUID)
		}
		c.expr(fmt.Sprintf("%s query %s", where, t.RefID), t.Expr)
	}
	return len(p.Targets)
}

// rules checks every expression in a Prometheus rule file.
func (c *checker) rules(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		c.fail("%v", err)
		return
	}
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert  string `yaml:"alert"`
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		c.fail("%s: %v", path, err)
		return
	}
	n := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			c.expr(fmt.Sprintf("%s: group %s rule %s%s", path, g.Name, r.Alert, r.Record), r.Expr)
			n++
		}
	}
	fmt.Printf("%s: %d rules\n", path, n)
}

// source checks that each crier_* metric is still defined in Crier's code:
// its name appears as a string literal in a .go file under dir. Files are
// read through an os.Root on dir, so a symbolic link cannot lead outside it.
func (c *checker) source(dir string) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		c.fail("%v", err)
		return
	}
	defer func() { _ = root.Close() }() // read-only: nothing to lose
	var text strings.Builder
	err = fs.WalkDir(root.FS(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := root.ReadFile(p)
		text.Write(b)
		return err
	})
	if err != nil {
		c.fail("%s: %v", dir, err)
		return
	}
	var names []string
	for name := range metrics {
		if strings.HasPrefix(name, "crier_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.Contains(text.String(), `"`+name+`"`) {
			c.fail("%s: no metric named %s is defined there any more (renamed? update the dashboard, the alerts and this list)", dir, name)
		}
	}
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var ruleFiles multi
	flag.Var(&ruleFiles, "rules", "a Prometheus rule file to check too (repeatable)")
	src := flag.String("metrics-src", "", "directory of Go files defining Crier's metrics, to check the crier_* names against")
	flag.Parse()
	if flag.NArg() == 0 && len(ruleFiles) == 0 {
		fmt.Fprintln(os.Stderr, "usage: checkdashboard [-rules alerts.yaml]... [-metrics-src DIR] [dashboard.json]...")
		os.Exit(2)
	}
	c := &checker{parser: parser.NewParser(parser.Options{}), used: map[string]bool{}}
	for _, path := range flag.Args() {
		c.dashboard(path)
	}
	for _, path := range ruleFiles {
		c.rules(path)
	}
	if *src != "" {
		c.source(*src)
	}
	if len(c.errs) > 0 {
		fmt.Fprintln(os.Stderr, errors.Join(c.errs...))
		fmt.Fprintf(os.Stderr, "%d problem(s)\n", len(c.errs))
		os.Exit(1)
	}
	fmt.Printf("ok: every expression parses and selects only Crier's metrics (%d of %d used)\n", len(c.used), len(metrics))
}
