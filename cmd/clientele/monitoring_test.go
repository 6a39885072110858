package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"
)

// Paths of the monitoring files, relative to this package.
const (
	dashboardFile  = "../../ops/grafana/clientele.json"
	alertsFile     = "../../ops/prometheus/alerts.yml"
	alertTestsFile = "../../ops/prometheus/alerts_test.yml"
)

// prometheusSeries are series that Prometheus makes itself for every
// target, which rules may refer to.
var prometheusSeries = []string{"up"}

// operatorMetrics are the metrics that operators need from serve, each of
// which must be exported.
var operatorMetrics = []string{
	"clientele_events_applied_total", "clientele_events_rejected_total", "clientele_events_dead_lettered_total",
	"clientele_projector_lag_events", "clientele_projector_lag_seconds", "clientele_projector_applied_sequence",
	"clientele_stream_last_sequence", "clientele_users", "clientele_clients", "clientele_sessions_connected",
	"clientele_query_requests_total", "clientele_query_duration_seconds", "clientele_revocations_total",
	"clientele_revocation_confirmation_seconds", "clientele_revocations_pending", "clientele_revocations_oldest_pending_seconds",
	"clientele_snapshot_duration_seconds", "clientele_snapshot_size_bytes", "clientele_snapshot_timestamp_seconds",
	"clientele_nodes_live", "clientele_nats_connected", "clientele_nats_reconnects_total", "clientele_ready",
	"go_goroutines", "process_resident_memory_bytes",
}

// gatherServe returns the metric families of the registry that serve
// builds.
func gatherServe(t *testing.T) []*dto.MetricFamily {
	t.Helper()
	sm := newServeMetrics(func() error { return errors.New("not started") })
	families, err := sm.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// exportedNames returns the names that PromQL can select from families:
// each family's name, and for histograms and summaries their _bucket,
// _sum and _count series.
func exportedNames(families []*dto.MetricFamily) map[string]bool {
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[f.GetName()+"_bucket"] = true
			fallthrough
		case dto.MetricType_SUMMARY:
			names[f.GetName()+"_sum"] = true
			names[f.GetName()+"_count"] = true
		}
	}
	return names
}

func TestServeMetricsLint(t *testing.T) {
	sm := newServeMetrics(func() error { return nil })
	problems, err := testutil.GatherAndLint(sm.registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	names := exportedNames(gatherServe(t))
	for _, name := range operatorMetrics {
		if !names[name] {
			t.Errorf("serve's registry does not export %s", name)
		}
	}
}

// alertRules is the part of a Prometheus rule file that the tests read.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string `yaml:"alert"`
			Record string `yaml:"record"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readAlertRules(t *testing.T) alertRules {
	t.Helper()
	data, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rules alertRules
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	return rules
}

// dashboardQueries returns every PromQL expression of the dashboard at
// path: panel targets, also inside collapsed rows, and the metrics of the
// label_values queries of template variables.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var board struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &board); err != nil {
		t.Fatalf("%s: %v", path, err)
	}

	var exprs []string
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: panel: %v", path, err)
			}
			for _, target := range p.Targets {
				if target.Expr == "" {
					t.Errorf("%s: panel %q has a target without expr", path, p.Title)
				}
				exprs = append(exprs, target.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(board.Panels)

	for _, v := range board.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("%s: variable %s: %v", path, v.Name, err)
		}
		selector, ok := labelValuesSelector(q.Query)
		if !ok {
			t.Errorf("%s: variable %s: query %q is not label_values(METRIC, LABEL)", path, v.Name, q.Query)
			continue
		}
		exprs = append(exprs, selector)
	}
	return exprs
}

var labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(.+)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)

// labelValuesSelector returns the series selector of a Grafana
// label_values(SELECTOR, LABEL) query.
func labelValuesSelector(query string) (string, bool) {
	m := labelValuesQuery.FindStringSubmatch(query)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func TestDashboardUsesExportedMetrics(t *testing.T) {
	exprs := dashboardQueries(t, dashboardFile)
	if len(exprs) < 20 {
		t.Fatalf("%s has %d queries, want a dashboard of every metric", dashboardFile, len(exprs))
	}
	families := gatherServe(t)
	names := exportedNames(families)
	used := map[string]bool{}
	for _, expr := range exprs {
		selected := promqlMetricNames(expr)
		if len(selected) == 0 {
			t.Errorf("query %q selects no metric", expr)
		}
		for _, name := range selected {
			used[name] = true
			if !names[name] {
				t.Errorf("dashboard query %q uses %s, which serve does not export", expr, name)
			}
		}
	}
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "clientele_") {
			continue
		}
		if !used[name] && !used[name+"_bucket"] && !used[name+"_sum"] && !used[name+"_count"] {
			t.Errorf("serve exports %s, but no dashboard panel shows it", name)
		}
	}
}

func TestAlertRulesUseExportedMetrics(t *testing.T) {
	rules := readAlertRules(t)
	names := exportedNames(gatherServe(t))
	for _, s := range prometheusSeries {
		names[s] = true
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				names[r.Record] = true
			}
		}
	}
	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts++
			}
			for _, name := range promqlMetricNames(r.Expr) {
				if !names[name] {
					t.Errorf("rule %s%s: %q uses %s, which serve does not export", r.Alert, r.Record, r.Expr, name)
				}
			}
		}
	}
	if alerts == 0 {
		t.Fatalf("%s has no alert rules", alertsFile)
	}
}

// alertTests is the part of a promtool test file that the tests read.
type alertTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name        string `yaml:"name"`
		InputSeries []struct {
			Series string `yaml:"series"`
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestAlertTestsCoverEveryAlert checks that for every alert a test group
// expects it to fire, and feeds it an instance named "healthy" that it
// never expects to fire. promtool fails a test on any alert it did not
// expect, so such a group shows that the healthy series stays silent.
func TestAlertTestsCoverEveryAlert(t *testing.T) {
	data, err := os.ReadFile(alertTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	var tests alertTests
	if err := yaml.Unmarshal(data, &tests); err != nil {
		t.Fatalf("%s: %v", alertTestsFile, err)
	}
	if !slices.Contains(tests.RuleFiles, filepath.Base(alertsFile)) {
		t.Errorf("%s tests rule files %v, want %s", alertTestsFile, tests.RuleFiles, filepath.Base(alertsFile))
	}

	fires, silent := map[string]bool{}, map[string]bool{}
	for _, group := range tests.Tests {
		healthyInput := false
		for _, s := range group.InputSeries {
			healthyInput = healthyInput || strings.Contains(s.Series, `instance="healthy"`)
		}
		for _, check := range group.AlertRuleTest {
			healthyFires := false
			for _, a := range check.ExpAlerts {
				healthyFires = healthyFires || a.ExpLabels["instance"] == "healthy"
			}
			if len(check.ExpAlerts) > 0 {
				fires[check.Alertname] = true
			}
			if healthyInput && !healthyFires {
				silent[check.Alertname] = true
			}
		}
	}
	for _, g := range readAlertRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if !fires[r.Alert] {
				t.Errorf("%s: no test expects %s to fire", alertTestsFile, r.Alert)
			}
			if !silent[r.Alert] {
				t.Errorf("%s: no test of %s has a healthy instance that stays silent", alertTestsFile, r.Alert)
			}
		}
	}
}

// promtool returns the path of promtool, and fails the test when it is
// missing, because the alert rules must be checked in every run.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): install it with `apt-get install prometheus`", err)
	}
	return path
}

func TestAlertRulesPromtool(t *testing.T) {
	tool := promtool(t)
	dir := filepath.Dir(alertsFile)
	for _, args := range [][]string{
		{"check", "rules", filepath.Base(alertsFile)},
		{"test", "rules", filepath.Base(alertTestsFile)},
	} {
		cmd := exec.Command(tool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// grafanaIntervals are Grafana's interval variables, which stand for a
// range duration in queries.
var grafanaIntervals = regexp.MustCompile(`\$__(rate_interval|interval|range)\b`)

// TestDashboardQueriesParse has promtool parse every dashboard query, as
// the expression of a recording rule, with Grafana's variables replaced:
// intervals by 5m and the instance filter by a regular expression that
// matches every instance.
func TestDashboardQueriesParse(t *testing.T) {
	tool := promtool(t)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for i, expr := range dashboardQueries(t, dashboardFile) {
		expr = grafanaIntervals.ReplaceAllString(expr, "5m")
		expr = grafanaVariable.ReplaceAllString(expr, ".*")
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: expr})
	}
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard queries: %v\n%s", err, out)
	}
}
