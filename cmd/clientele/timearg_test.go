package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimeArg(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		value   string
		want    time.Time
		errPart string
	}{
		{"2026-12-04T10:00:00Z", time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), ""},
		{"2026-12-04T11:00:00.5+01:00", time.Date(2026, 12, 4, 10, 0, 0, 5e8, time.UTC), ""},
		{"2026-12-03", time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), ""},
		{"-2h", now.Add(-2 * time.Hour), ""},
		{"-1h30m", now.Add(-90 * time.Minute), ""},
		{"now", now, ""},
		{"2h", time.Time{}, "needs a minus sign"},
		{"-2 hours", time.Time{}, "invalid duration"},
		{"yesterday", time.Time{}, "expected an RFC 3339 time"},
		{"", time.Time{}, "is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			got, err := parseTimeArg("--at", tc.value, now)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) || !strings.Contains(err.Error(), "--at") {
					t.Fatalf("parseTimeArg(%q) = %v, %v; want an error naming --at with %q", tc.value, got, err, tc.errPart)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("parseTimeArg(%q) = %v, %v; want %v", tc.value, got, err, tc.want)
			}
		})
	}
}
