// Package deploy holds routerd's deployment files: the systemd unit, the
// Dockerfile, the Grafana dashboard and the Prometheus rules. Its tests keep
// the dashboard and the alerts honest: every eventrouter_* metric, label and
// label value their PromQL uses must be one the Go code registers, so
// renaming a metric breaks a test here instead of a graph in production.
package deploy

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/eventrouter/eventrouter/config"
	"go.yaml.in/yaml/v3"
)

const (
	dashboardFile = "grafana/eventrouter.json"
	alertsFile    = "prometheus/alerts.yml"
	alertsTests   = "prometheus/alerts_test.yml"
	scrapeFile    = "prometheus/scrape.yml"
	readmeFile    = "README.md"
)

// metric is one metric the Go code registers.
type metric struct {
	kind   string // Counter, Gauge, Histogram, Summary
	labels map[string]bool
}

// source is what the repository's Go code (tests and deploy/ excluded)
// declares: metrics by name, and every string literal, for label values.
type source struct {
	metrics map[string]metric
	strs    map[string]bool
}

var (
	srcOnce sync.Once
	src     source
	srcErr  error
)

// repoSource parses every non-test Go file of the repository once.
func repoSource(t *testing.T) source {
	t.Helper()
	srcOnce.Do(func() { src, srcErr = scanSource("..") })
	if srcErr != nil {
		t.Fatal(srcErr)
	}
	return src
}

func scanSource(root string) (source, error) {
	s := source{metrics: map[string]metric{}, strs: map[string]bool{}}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "deploy" || name == "testdata" || name == "vendor" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if v, ok := stringLit(n); ok {
					s.strs[v] = true
				}
			case *ast.CallExpr:
				if name, m, ok := metricDecl(n); ok {
					s.metrics[name] = m
				}
			}
			return true
		})
		return nil
	})
	if err == nil && len(s.metrics) == 0 {
		err = fmt.Errorf("no metric declarations found under %s", root)
	}
	return s, err
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	v, err := strconv.Unquote(lit.Value)
	return v, err == nil
}

// metricDecl recognises prometheus.New{Counter,Gauge,Histogram,Summary}[Vec]
// (XxxOpts{Namespace, Subsystem, Name}, []string{labels...}), and
// prometheus.NewDesc("name", help, []string{labels...}, ...) of the
// metrics a collector makes at each scrape.
func metricDecl(call *ast.CallExpr) (string, metric, bool) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || len(call.Args) == 0 {
		return "", metric{}, false
	}
	if sel.Sel.Name == "NewDesc" && len(call.Args) >= 3 {
		name, ok := stringLit(call.Args[0])
		if !ok || name == "" {
			return "", metric{}, false
		}
		return name, metric{kind: "Desc", labels: stringSet(call.Args[2])}, true
	}
	kind := strings.TrimSuffix(strings.TrimPrefix(sel.Sel.Name, "New"), "Vec")
	if !slices.Contains([]string{"Counter", "Gauge", "Histogram", "Summary"}, kind) {
		return "", metric{}, false
	}
	opts, ok := call.Args[0].(*ast.CompositeLit)
	if !ok {
		return "", metric{}, false
	}
	parts := map[string]string{}
	for _, el := range opts.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		key, ok := kv.Key.(*ast.Ident)
		if !ok {
			continue
		}
		if v, ok := stringLit(kv.Value); ok {
			parts[key.Name] = v
		}
	}
	if parts["Name"] == "" {
		return "", metric{}, false
	}
	var fq []string
	for _, k := range []string{"Namespace", "Subsystem", "Name"} {
		if parts[k] != "" {
			fq = append(fq, parts[k])
		}
	}
	m := metric{kind: kind, labels: map[string]bool{}}
	if len(call.Args) > 1 {
		m.labels = stringSet(call.Args[1])
	}
	return strings.Join(fq, "_"), m, true
}

// stringSet is the string literals of a composite literal such as
// []string{"consumer", "result"}; empty for anything else (nil).
func stringSet(e ast.Expr) map[string]bool {
	set := map[string]bool{}
	if lit, ok := e.(*ast.CompositeLit); ok {
		for _, el := range lit.Elts {
			if v, ok := stringLit(el); ok {
				set[v] = true
			}
		}
	}
	return set
}

// query is one PromQL expression and where it came from.
type query struct {
	where string
	expr  string
}

// dashboard is the parts of the Grafana JSON the tests look at.
type dashboard struct {
	UID           string            `json:"uid"`
	SchemaVersion int               `json:"schemaVersion"`
	Panels        []json.RawMessage `json:"panels"`
	Templating    struct {
		List []struct {
			Type       string          `json:"type"`
			Name       string          `json:"name"`
			Query      json.RawMessage `json:"query"`
			Datasource json.RawMessage `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int                       `json:"id"`
	Type       string                    `json:"type"`
	Title      string                    `json:"title"`
	Datasource json.RawMessage           `json:"datasource"`
	GridPos    *struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []struct {
		Expr       string          `json:"expr"`
		RefID      string          `json:"refId"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
	Panels []json.RawMessage `json:"panels"` // collapsed rows
}

func loadDashboard(t *testing.T) (dashboard, []panel) {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var all []panel
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: panel: %v", dashboardFile, err)
			}
			all = append(all, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return d, all
}

// dashboardQueries returns the panels' expressions and the query
// variables' label_values(...) queries.
func dashboardQueries(t *testing.T) []query {
	d, panels := loadDashboard(t)
	var qs []query
	for _, p := range panels {
		for _, tg := range p.Targets {
			qs = append(qs, query{fmt.Sprintf("%s: panel %q (%s)", dashboardFile, p.Title, tg.RefID), tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		qs = append(qs, query{fmt.Sprintf("%s: variable %s", dashboardFile, v.Name), variableQuery(t, v.Query)})
	}
	return qs
}

// variableQuery returns a query variable's query, written as a string or
// as Grafana 10's {"query": "..."} object.
func variableQuery(t *testing.T, raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("variable query %s: %v", raw, err)
	}
	return o.Query
}

type rulesFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadAlerts(t *testing.T) rulesFile {
	t.Helper()
	data, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf rulesFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	return rf
}

func alertQueries(t *testing.T) []query {
	var qs []query
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			qs = append(qs, query{fmt.Sprintf("%s: %s", alertsFile, r.Alert+r.Record), r.Expr})
		}
	}
	return qs
}

var (
	metricRe     = regexp.MustCompile(`\beventrouter_[a-zA-Z0-9_]+`)
	selectorRe   = regexp.MustCompile(`\b(eventrouter_[a-zA-Z0-9_]+)\s*\{([^}]*)\}`)
	matcherRe    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	groupingRe   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	labelValueRe = regexp.MustCompile(`label_values\(\s*(eventrouter_[a-zA-Z0-9_]+)[^,]*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
	plainValues  = regexp.MustCompile(`^[A-Za-z0-9_-]+(\|[A-Za-z0-9_-]+)*$`)
	otherMetric  = regexp.MustCompile(`\b(up|go_[a-z0-9_]+|process_[a-z0-9_]+)\b`)
)

// targetLabels are attached by Prometheus at scrape time.
var targetLabels = map[string]bool{"job": true, "instance": true}

// resolve maps a name used in PromQL to the registered metric: the name
// itself, or a histogram's (or summary's) _bucket/_count/_sum series.
func resolve(s source, name string) (base string, m metric, suffix string, ok bool) {
	if m, ok := s.metrics[name]; ok {
		return name, m, "", true
	}
	for _, suf := range []string{"_bucket", "_count", "_sum"} {
		base := strings.TrimSuffix(name, suf)
		if base == name {
			continue
		}
		m, ok := s.metrics[base]
		if !ok {
			continue
		}
		if m.kind == "Histogram" || (m.kind == "Summary" && suf != "_bucket") {
			return base, m, suf, true
		}
	}
	return "", metric{}, "", false
}

// checkQuery reports every eventrouter_* metric, label or label value in q
// that the Go code does not declare, and misuse of histogram_quantile.
func checkQuery(t *testing.T, s source, q query) {
	t.Helper()
	if strings.TrimSpace(q.expr) == "" {
		t.Errorf("%s: empty expression", q.where)
		return
	}
	labels := map[string]bool{} // every label the expression's metrics have
	buckets := false
	for _, name := range metricRe.FindAllString(q.expr, -1) {
		_, m, suffix, ok := resolve(s, name)
		if !ok {
			t.Errorf("%s: metric %s is not declared in the Go code (renamed?)", q.where, name)
			continue
		}
		for l := range m.labels {
			labels[l] = true
		}
		if suffix == "_bucket" {
			buckets = true
		}
	}
	for _, sm := range selectorRe.FindAllStringSubmatch(q.expr, -1) {
		name, body := sm[1], sm[2]
		_, m, suffix, ok := resolve(s, name)
		if !ok {
			continue // reported above
		}
		for _, mm := range matcherRe.FindAllStringSubmatch(body, -1) {
			label, op, value := mm[1], mm[2], mm[3]
			if targetLabels[label] {
				continue
			}
			if !m.labels[label] && !(label == "le" && suffix == "_bucket") {
				t.Errorf("%s: %s has no label %q (has %v)", q.where, name, label, keys(m.labels))
				continue
			}
			if (op == "=" || op == "=~") && plainValues.MatchString(value) {
				for _, v := range strings.Split(value, "|") {
					if !s.strs[v] {
						t.Errorf("%s: %s{%s%s%q}: no Go string literal %q: is this label value still produced?", q.where, name, label, op, value, v)
					}
				}
			}
		}
	}
	// Grouping labels: checkable when only eventrouter metrics are used.
	if !otherMetric.MatchString(q.expr) && len(labels) > 0 {
		for _, g := range groupingRe.FindAllStringSubmatch(q.expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				l = strings.TrimSpace(l)
				if l == "" || targetLabels[l] || labels[l] || (l == "le" && buckets) {
					continue
				}
				t.Errorf("%s: groups by %q, which none of its metrics has", q.where, l)
			}
		}
	}
	for _, lv := range labelValueRe.FindAllStringSubmatch(q.expr, -1) {
		if _, m, _, ok := resolve(s, lv[1]); ok && !m.labels[lv[2]] && !targetLabels[lv[2]] {
			t.Errorf("%s: label_values: %s has no label %q", q.where, lv[1], lv[2])
		}
	}
	if n := strings.Count(q.expr, "histogram_quantile("); n > 0 {
		if !buckets {
			t.Errorf("%s: histogram_quantile over something other than a histogram's _bucket series", q.where)
		}
		leGroupings := 0
		for _, g := range groupingRe.FindAllStringSubmatch(q.expr, -1) {
			if slices.Contains(strings.Split(strings.ReplaceAll(g[1], " ", ""), ","), "le") {
				leGroupings++
			}
		}
		if leGroupings < n {
			t.Errorf("%s: every histogram_quantile needs sum by (..., le) (rate(..._bucket[...]))", q.where)
		}
	}
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestSourceScanFindsSpecMetrics(t *testing.T) {
	s := repoSource(t)
	// The scanner itself must work, or the other tests prove nothing.
	for name, want := range map[string][]string{
		"eventrouter_ingest_events_total":             {"source", "result"},
		"eventrouter_ingest_request_duration_seconds": {"source"},
		"eventrouter_invocations_total":               {"consumer", "result"},
		"eventrouter_dlq_events_total":                {"consumer", "reason"},
		"eventrouter_config_last_reload_successful":   {},
		"eventrouter_consumer_backlog_events":         {"consumer"}, // a collector's NewDesc
		"eventrouter_bus_storage_used_bytes":          {},
	} {
		m, ok := s.metrics[name]
		if !ok {
			t.Errorf("scanner did not find %s among %v", name, keys(metricSet(s)))
			continue
		}
		if got := keys(m.labels); !slices.Equal(got, sortedCopy(want)) {
			t.Errorf("%s: labels %v, want %v", name, got, want)
		}
	}
}

func metricSet(s source) map[string]bool {
	out := map[string]bool{}
	for k := range s.metrics {
		out[k] = true
	}
	return out
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	if c == nil {
		c = []string{}
	}
	return c
}

func TestDashboardUsesDeclaredMetrics(t *testing.T) {
	s := repoSource(t)
	qs := dashboardQueries(t)
	if len(qs) < 20 {
		t.Fatalf("only %d queries found in %s", len(qs), dashboardFile)
	}
	for _, q := range qs {
		checkQuery(t, s, q)
	}
	// Every metric of SPEC's table is on the dashboard.
	all := ""
	for _, q := range qs {
		all += q.expr + "\n"
	}
	for _, name := range specMetrics {
		if !regexp.MustCompile(`\b` + name + `(_bucket|_count|_sum)?\b`).MatchString(all) {
			t.Errorf("%s: metric %s (SPEC.md, Metrics) is not on the dashboard", dashboardFile, name)
		}
	}
}

// specMetrics is SPEC.md's metrics table.
var specMetrics = []string{
	"eventrouter_ingest_events_total",
	"eventrouter_ingest_request_duration_seconds",
	"eventrouter_matched_events_total",
	"eventrouter_rule_triggered_total",
	"eventrouter_invocations_total",
	"eventrouter_invocation_attempts_total",
	"eventrouter_invocation_duration_seconds",
	"eventrouter_ingestion_to_invocation_seconds",
	"eventrouter_dlq_events_total",
	"eventrouter_throttled_requests_total",
	"eventrouter_config_last_reload_successful",
}

func TestDashboardShape(t *testing.T) {
	d, panels := loadDashboard(t)
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want ≥ 36", d.SchemaVersion)
	}
	if d.UID == "" {
		t.Error("dashboard has no uid (provisioning and links need a stable one)")
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	for _, name := range []string{"datasource", "job", "instance", "bus", "rule", "consumer"} {
		if _, ok := vars[name]; !ok {
			t.Errorf("no template variable %q", name)
		}
	}
	if vars["datasource"] != "datasource" {
		t.Errorf("variable datasource has type %q, want datasource", vars["datasource"])
	}
	ids := map[int]bool{}
	for _, p := range panels {
		if ids[p.ID] {
			t.Errorf("panel %q: duplicate id %d", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: missing or duplicate refId %q", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			for _, ds := range []json.RawMessage{p.Datasource, tg.Datasource} {
				if !strings.Contains(string(ds), "${datasource}") {
					t.Errorf("panel %q: datasource %s is not the ${datasource} variable", p.Title, ds)
				}
			}
		}
	}
}

func TestAlertsUseDeclaredMetrics(t *testing.T) {
	s := repoSource(t)
	for _, q := range alertQueries(t) {
		checkQuery(t, s, q)
	}
}

var promDuration = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)

func TestAlertRulesShape(t *testing.T) {
	rf := loadAlerts(t)
	readme, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{}
	for _, line := range strings.Split(string(readme), "\n") {
		if h, ok := strings.CutPrefix(line, "### "); ok {
			headings[strings.TrimSpace(h)] = true
		}
	}
	seen := map[string]bool{}
	n := 0
	for _, g := range rf.Groups {
		if g.Name == "" {
			t.Error("a group has no name")
		}
		for _, r := range g.Rules {
			n++
			if r.Alert == "" {
				t.Errorf("group %s: a rule has no alert name (recording rules belong elsewhere)", g.Name)
				continue
			}
			if seen[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			seen[r.Alert] = true
			if !promDuration.MatchString(r.For) {
				t.Errorf("alert %s: for %q is not a Prometheus duration", r.Alert, r.For)
			}
			if sev := r.Labels["severity"]; sev != "critical" && sev != "warning" && sev != "info" {
				t.Errorf("alert %s: severity %q, want critical, warning or info", r.Alert, sev)
			}
			for _, a := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("alert %s: no %s annotation", r.Alert, a)
				}
			}
			anchor := "deploy/README.md#" + strings.ToLower(r.Alert)
			if !strings.HasPrefix(r.Annotations["runbook"], anchor) {
				t.Errorf("alert %s: runbook should start with %s", r.Alert, anchor)
			}
			if !headings[r.Alert] {
				t.Errorf("alert %s: %s has no runbook heading \"### %s\"", r.Alert, readmeFile, r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatalf("%s has no rules", alertsFile)
	}
}

// TestAlertsMatchScrapeJob: the alerts select job="..." values that the
// example scrape configuration defines.
func TestAlertsMatchScrapeJob(t *testing.T) {
	data, err := os.ReadFile(scrapeFile)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v", scrapeFile, err)
	}
	jobs := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = true
	}
	jobRe := regexp.MustCompile(`\bjob\s*=\s*"([^"]*)"`)
	for _, q := range alertQueries(t) {
		for _, m := range jobRe.FindAllStringSubmatch(q.expr, -1) {
			if !jobs[m[1]] {
				t.Errorf("%s: job %q is not a job_name in %s (%v)", q.where, m[1], scrapeFile, keys(jobs))
			}
		}
	}
}

// TestYAMLFilesParse: every YAML file under deploy/ is valid YAML.
func TestYAMLFilesParse(t *testing.T) {
	files, _ := filepath.Glob("*/*.y*ml")
	if len(files) < 4 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestContainerConfig: the image's config loads as routerd would load it,
// and, listening on 0.0.0.0 without auth, only with --insecure (as
// deploy/README.md says).
func TestContainerConfig(t *testing.T) {
	const file = "docker/config.yaml"
	c, err := config.Load(file, config.WithInsecure(true))
	if err != nil {
		t.Fatalf("%s with --insecure: %v", file, err)
	}
	if c.Bus.DataDir != "/data" {
		t.Errorf("%s: bus.data_dir %q, want the image's volume /data", file, c.Bus.DataDir)
	}
	if _, err := config.Load(file); err == nil {
		t.Errorf("%s loads without --insecure or auth; deploy/README.md says it does not", file)
	}
}

// TestPromtool runs promtool, when it is installed, on the rules, their unit
// tests, the scrape config and (as recording rules) the dashboard's
// expressions with Grafana's variables filled in.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH")
	}
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("prometheus", "check", "rules", filepath.Base(alertsFile))
	run("prometheus", "test", "rules", filepath.Base(alertsTests))
	run("prometheus", "check", "config", filepath.Base(scrapeFile))

	grafanaVar := regexp.MustCompile(`\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?`)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for i, q := range dashboardQueries(t) {
		if strings.HasPrefix(q.expr, "label_values(") {
			continue // a Grafana function, not PromQL
		}
		e := strings.NewReplacer("$__rate_interval", "5m", "$__range", "1h", "$__interval", "1m").Replace(q.expr)
		e = grafanaVar.ReplaceAllString(e, ".*")
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query%d", i), Expr: e})
	}
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.yml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	run(dir, "check", "rules", "dashboard.yml")
}
