package settings

import (
	"fmt"
	"slices"
	"strings"
)

// Setting names. They are the keys in the bucket and the field names of the
// JSON form of Settings.
const (
	// EnforceClientIDs makes nodes reject authentication that carries no
	// SASL2 client id (XEP-0388). Off by default.
	EnforceClientIDs = "enforce_client_ids"
)

// Names lists every known setting in a stable order.
func Names() []string {
	return []string{EnforceClientIDs}
}

// Settings are the values of every setting at one revision.
type Settings struct {
	EnforceClientIDs bool `json:"enforce_client_ids"`
	// Revision grows with every change of any setting. It is 0 while no
	// setting was ever set.
	Revision uint64 `json:"revision"`
}

// Value returns the value of the setting name in its canonical text form.
func (s Settings) Value(name string) (string, error) {
	switch name {
	case EnforceClientIDs:
		return formatBool(s.EnforceClientIDs), nil
	}
	return "", unknown(name)
}

// set stores the canonical value of name in s. The value must have passed
// Parse.
func (s *Settings) set(name, value string) error {
	switch name {
	case EnforceClientIDs:
		b, err := parseBool(name, value)
		if err != nil {
			return err
		}
		s.EnforceClientIDs = b
		return nil
	}
	return unknown(name)
}

// Parse checks value against the setting name and returns its canonical
// form. Errors wrap ErrUnknown or ErrInvalidValue and name the value.
func Parse(name, value string) (string, error) {
	var s Settings
	if err := s.set(name, value); err != nil {
		return "", err
	}
	return s.Value(name)
}

func unknown(name string) error {
	return fmt.Errorf("%w: %q: known settings are %s", ErrUnknown, name, strings.Join(Names(), ", "))
}

// parseBool accepts true, false, on, off, yes, no, 1 and 0 in any case.
func parseBool(name, value string) (bool, error) {
	v := strings.ToLower(strings.TrimSpace(value))
	if slices.Contains([]string{"true", "on", "yes", "1"}, v) {
		return true, nil
	}
	if slices.Contains([]string{"false", "off", "no", "0"}, v) {
		return false, nil
	}
	return false, fmt.Errorf("%w: %s %q: expected true or false", ErrInvalidValue, name, value)
}

func formatBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
