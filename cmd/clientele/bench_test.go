package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchCommandHeap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.json")
	code, stdout, stderr := runCLI(t, "", nil, "bench", "--quick", "--only", "heap", "--heap-users", "2000", "--json", path)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"Go heap per tracked client", "<= 256", "results written to " + path} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "heap: fold accounts") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		Results []struct {
			Name      string  `json:"name"`
			Clientele float64 `json:"clientele"`
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	if len(report.Results) != 1 || report.Results[0].Name != "heap" || report.Results[0].Clientele <= 0 {
		t.Errorf("JSON results = %+v, want one heap figure", report.Results)
	}
}

func TestBenchCommandRejectsMeasurement(t *testing.T) {
	code, _, stderr := runCLI(t, "", nil, "bench", "--only", "speed", "--json", "")
	if code != exitFailure || !strings.Contains(stderr, `unknown measurement "speed"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
