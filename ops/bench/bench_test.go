package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/clientele-xmpp/clientele/ops/bench"
)

// TestRunQuick runs every measurement at smoke-test size and checks that
// each reports its figures and target. It asserts no ratio: the figures
// depend on the machine and its load.
func TestRunQuick(t *testing.T) {
	cfg := bench.Quick()
	cfg.Dir = t.TempDir()
	progressed := make(map[string]bool)
	cfg.Progress = func(p bench.Progress) { progressed[p.Measurement] = true }

	report, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	byName := make(map[string]bench.Result)
	for _, r := range report.Results {
		byName[r.Name] = r
	}
	for _, name := range []string{"heap", "publish", "catchup", "restart", "list-p50", "list", "revoke-p50", "revoke"} {
		r, ok := byName[name]
		if !ok {
			t.Errorf("no result %q", name)
			continue
		}
		if r.Skipped != "" {
			t.Errorf("%s skipped: %s", name, r.Skipped)
		}
		if r.Clientele <= 0 {
			t.Errorf("%s: clientele figure %v, want a positive one", name, r.Clientele)
		}
		if name != "heap" && (r.Baseline <= 0 || r.Ratio <= 0) {
			t.Errorf("%s: baseline %v and ratio %v, want positive ones", name, r.Baseline, r.Ratio)
		}
		if !strings.HasSuffix(name, "-p50") && r.Target.Op == "" {
			t.Errorf("%s has no target", name)
		}
	}
	xmppResult, ok := byName["xmpp"]
	switch {
	case !ok:
		t.Error("no xmpp result, not even a skipped one")
	case prosodyInstalled() && xmppResult.Skipped != "":
		t.Errorf("xmpp skipped although prosody is installed: %s", xmppResult.Skipped)
	case prosodyInstalled() && (xmppResult.Clientele <= 0 || xmppResult.Baseline <= 0):
		t.Errorf("xmpp: clientele %v and baseline %v, want positive figures", xmppResult.Clientele, xmppResult.Baseline)
	case !prosodyInstalled() && xmppResult.Skipped == "":
		t.Error("xmpp ran without prosody")
	}
	for _, m := range []string{"heap", "publish", "catchup", "restart", "list", "revoke"} {
		if !progressed[m] {
			t.Errorf("no progress reported for %s", m)
		}
	}
	checkOutputs(t, report)
}

// prosodyInstalled reports whether the XMPP measurement can run, as far as
// the programs in PATH tell. ops/test.sh installs Prosody and
// mod_delegation, so there the measurement runs.
func prosodyInstalled() bool {
	_, err := exec.LookPath("prosody")
	return err == nil
}

// checkOutputs checks that the table names every result with its target
// and that the JSON form decodes to the same results.
func checkOutputs(t *testing.T, report *bench.Report) {
	t.Helper()
	var table bytes.Buffer
	if err := report.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, r := range report.Results {
		if !strings.Contains(table.String(), r.Title) {
			t.Errorf("table lacks %q:\n%s", r.Title, table.String())
		}
		if r.Skipped == "" && r.Target.Op != "" && !strings.Contains(table.String(), r.Target.String()) {
			t.Errorf("table lacks the target %q of %s", r.Target.String(), r.Name)
		}
	}
	for _, line := range strings.Split(table.String(), "\n") {
		fields := strings.Fields(line)
		if strings.Contains(line, " p50 ") && fields[len(fields)-1] != "-" {
			t.Errorf("a figure without a target shows a verdict: %q", line)
		}
	}
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var decoded bench.Report
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded.Results) != len(report.Results) || decoded.Machine.CPUs != report.Machine.CPUs {
		t.Errorf("JSON round trip gives %d results and %d CPUs, want %d and %d",
			len(decoded.Results), decoded.Machine.CPUs, len(report.Results), report.Machine.CPUs)
	}
}

func TestRunRejectsConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  bench.Config
		want string
	}{
		{"negative events", bench.Config{Events: -1}, "Events is -1"},
		{"negative revokes", bench.Config{Revokes: -5}, "Revokes is -5"},
		{"unknown measurement", bench.Config{Only: []string{"speed"}}, `unknown measurement "speed"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bench.Run(context.Background(), tc.cfg)
			if !errors.Is(err, bench.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want ErrInvalidConfig naming %q", err, tc.want)
			}
		})
	}
}
