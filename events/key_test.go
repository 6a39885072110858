package events

import (
	"crypto/sha256"
	"strings"
	"testing"
)

func TestKeyForm(t *testing.T) {
	for _, s := range []string{"", "example.test", "alice@example.test", "jürgen@例え.テスト", strings.Repeat("x", 2000)} {
		sum := sha256.Sum256([]byte(s))
		want := strings.ToLower(keyEncoding.EncodeToString(sum[:10]))
		if got := Key(s); got != want {
			t.Errorf("Key(%q) = %q, want %q", s, got, want)
		}
		if got := cachedDomainKey(s); got != want {
			t.Errorf("cachedDomainKey(%q) = %q, want %q", s, got, want)
		}
		if got := cachedDomainKey(s); got != want {
			t.Errorf("cachedDomainKey(%q) from the cache = %q, want %q", s, got, want)
		}
	}
}
