package ingest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"os"
	"strings"
)

// MinTokenLen is the shortest token that LoadTokens accepts, in bytes.
const MinTokenLen = 16

// Tokens is a set of bearer tokens. Only SHA-256 hashes of the tokens are
// kept, and Valid compares against every one of them in constant time.
// It is safe for concurrent use.
type Tokens struct {
	hashes [][sha256.Size]byte
}

// NewTokens returns the set of the given tokens. Each must be at least
// MinTokenLen bytes long and contain no whitespace.
func NewTokens(tokens ...string) (*Tokens, error) {
	t := &Tokens{}
	for i, token := range tokens {
		if err := checkToken(token); err != nil {
			return nil, fmt.Errorf("%w: token %d: %v", ErrTokenFile, i+1, err)
		}
		t.hashes = append(t.hashes, sha256.Sum256([]byte(token)))
	}
	if len(t.hashes) == 0 {
		return nil, fmt.Errorf("%w: no token given", ErrTokenFile)
	}
	return t, nil
}

// LoadTokens reads a token file: one token per line, with blank lines and
// lines starting with # ignored. Several tokens allow a rotation without
// downtime. Errors wrap ErrTokenFile and name the file and line, but never
// show a token.
func LoadTokens(path string) (*Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenFile, err)
	}
	t := &Tokens{}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; scanner.Scan(); n++ {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := checkToken(line); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %v", ErrTokenFile, path, n, err)
		}
		t.hashes = append(t.hashes, sha256.Sum256([]byte(line)))
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrTokenFile, path, err)
	}
	if len(t.hashes) == 0 {
		return nil, fmt.Errorf("%w: %s has no token: write one random token of at least %d characters per line, such as the output of `openssl rand -hex 32`", ErrTokenFile, path, MinTokenLen)
	}
	return t, nil
}

func checkToken(token string) error {
	if len(token) < MinTokenLen {
		return fmt.Errorf("token of %d bytes is shorter than %d bytes", len(token), MinTokenLen)
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("token contains whitespace or control characters")
	}
	return nil
}

// Valid reports whether token is in the set. It hashes token and compares
// the hash with every stored hash, so that its time does not depend on
// which token matched or on how much of a token was right.
func (t *Tokens) Valid(token string) bool {
	sum := sha256.Sum256([]byte(token))
	match := 0
	for i := range t.hashes {
		match |= subtle.ConstantTimeCompare(sum[:], t.hashes[i][:])
	}
	return match == 1 && token != ""
}
