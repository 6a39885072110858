package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const nodeToken = "node-token-0123456789abcdef"

func writeTokenFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ingest.tokens")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeNodeInterface(t *testing.T) {
	ingestAddr := freeAddr(t)
	natsURL, httpAddr := startServe(t, "--ingest-listen", ingestAddr, "--ingest-token-file", writeTokenFile(t, nodeToken+"\n"))
	vars := map[string]string{"CLIENTELE_NATS_URL": natsURL}

	event := `{"id":"h1","type":"auth.password","v":1,"time":"2026-12-04T10:00:00Z","node":"xmpp-1","user":"erin@example.test","client":{"id":"c1","software":"Dino"},"session":{"id":"s1"}}`
	req, err := http.NewRequest(http.MethodPost, "http://"+ingestAddr+"/v1/events", strings.NewReader(event+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+nodeToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var result struct{ Stored int }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &result) != nil || result.Stored != 1 {
		t.Fatalf("POST /v1/events = %d %s, want one stored event", resp.StatusCode, body)
	}

	deadline := time.Now().Add(5 * time.Second)
	for len(listJSON(t, vars, "erin@example.test")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if clients := listJSON(t, vars, "erin@example.test"); len(clients) != 1 || clients[0].UserAgent.Software != "Dino" {
		t.Errorf("clients of erin after POST /v1/events = %+v, want Dino", clients)
	}

	metrics, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	for _, series := range []string{
		`clientele_ingest_events_total{outcome="stored"} 1`,
		`clientele_ingest_requests_total{code="200",endpoint="events"} 1`,
	} {
		if !strings.Contains(string(exposition), series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

func TestServeRejectsBadTokenFile(t *testing.T) {
	cases := []struct {
		name    string
		content string
		want    string
	}{
		{"empty file", "# no token yet\n", "has no token"},
		{"short token", "short\n", "shorter than 16 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"serve", "--data-dir", t.TempDir(), "--nats-listen", freeAddr(t), "--http-listen", freeAddr(t),
				"--ingest-listen", freeAddr(t), "--ingest-token-file", writeTokenFile(t, tc.content)}
			code, _, stderr := runCLI(t, "", nil, args...)
			if code != exitFailure || !strings.Contains(stderr, "--ingest-token-file") || !strings.Contains(stderr, tc.want) {
				t.Errorf("serve exit %d, stderr %q, want 1 naming --ingest-token-file and %q", code, stderr, tc.want)
			}
		})
	}
}

func TestSettingsCommand(t *testing.T) {
	natsURL, _ := startServe(t)
	vars := map[string]string{"CLIENTELE_NATS_URL": natsURL}

	code, stdout, stderr := runCLI(t, "", vars, "settings")
	if code != exitOK || stdout != "enforce_client_ids = false\n" {
		t.Fatalf("settings = exit %d, %q, %q; want the default off", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "", vars, "settings", "set", "enforce_client_ids", "on")
	if code != exitOK || stdout != "enforce_client_ids = true\n" {
		t.Fatalf("settings set = exit %d, %q, %q; want it on", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "", vars, "settings", "--json", "get", "enforce_client_ids")
	var got struct {
		EnforceClientIDs bool   `json:"enforce_client_ids"`
		Revision         uint64 `json:"revision"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &got) != nil || !got.EnforceClientIDs || got.Revision == 0 {
		t.Errorf("settings --json get = exit %d, %q; want enforce on with a revision", code, stdout)
	}

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"invalid value", []string{"set", "enforce_client_ids", "maybe"}, `"maybe": expected true or false`},
		{"unknown setting", []string{"get", "enforce_everything"}, "known settings are enforce_client_ids"},
		{"unknown action", []string{"toggle", "enforce_client_ids"}, `unknown action "toggle"`},
		{"set without value", []string{"set", "enforce_client_ids"}, "expected get NAME or set NAME VALUE"},
	}
	for _, tc := range usage {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", vars, append([]string{"settings"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q, want 2 with %q", code, stderr, tc.want)
			}
		})
	}
	if _, stdout, _ := runCLI(t, "", vars, "settings", "get", "enforce_client_ids"); stdout != "enforce_client_ids = true\n" {
		t.Errorf("after rejected changes: %q, want enforce still on", stdout)
	}
}
