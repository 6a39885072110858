package ingest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clientele-xmpp/clientele/ops/ingest"
)

func TestLoadTokens(t *testing.T) {
	const a, b = "first-token-0123456789", "second-token-0123456789"
	cases := []struct {
		name    string
		content string
		valid   []string
		invalid []string
		err     string
	}{
		{"two tokens with comments", "# node tokens\n" + a + "\n\n  " + b + "  \n", []string{a, b}, []string{"", "first-token", a + "x", "# node tokens"}, ""},
		{"empty file", "# nothing yet\n\n", nil, nil, "has no token"},
		{"short token", "short\n", nil, nil, "line 1: token of 5 bytes is shorter than 16 bytes"},
		{"inner space", "token with spaces inside it\n", nil, nil, "line 1: token contains whitespace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			tokens, err := ingest.LoadTokens(path)
			if tc.err != "" {
				if !errors.Is(err, ingest.ErrTokenFile) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("LoadTokens = %v, want ErrTokenFile with %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "short\n") || strings.Contains(err.Error(), "spaces inside") {
					t.Errorf("error %q shows the token", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tc.valid {
				if !tokens.Valid(v) {
					t.Errorf("Valid(%q) = false, want true", v)
				}
			}
			for _, v := range tc.invalid {
				if tokens.Valid(v) {
					t.Errorf("Valid(%q) = true, want false", v)
				}
			}
		})
	}
}

func TestLoadTokensMissingFile(t *testing.T) {
	_, err := ingest.LoadTokens(filepath.Join(t.TempDir(), "absent"))
	if !errors.Is(err, ingest.ErrTokenFile) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadTokens of a missing file = %v, want ErrTokenFile wrapping os.ErrNotExist", err)
	}
}
