package main

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestPromQLMetricNames(t *testing.T) {
	cases := []struct {
		name string
		expr string
		want []string
	}{
		{"bare name", "clientele_users", []string{"clientele_users"}},
		{"label matchers", `clientele_clients{type="session", legacy=~"true|false"}`, []string{"clientele_clients"}},
		{"function and range", `rate(clientele_events_applied_total{instance=~"$instance"}[$__rate_interval])`, []string{"clientele_events_applied_total"}},
		{"aggregation with by", `sum by (type, le) (rate(x_bucket[5m]))`, []string{"x_bucket"}},
		{"by after the aggregation", `sum(rate(x_total[1m])) by (instance)`, []string{"x_total"}},
		{"binary operators and numbers", `time() - a_seconds > 900 and b > bool 1e3 or c unless d offset 5m`, []string{"a_seconds", "b", "c", "d"}},
		{"vector matching", `a / on (instance) group_left (job) b`, []string{"a", "b"}},
		{"strings", `label_replace(up, "dst", "src_$1", "src", "(.*)")`, []string{"up"}},
		{"histogram quantile", `histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))`, []string{"h_bucket"}},
		{"selector by name label", `{__name__="clientele_users"}`, nil},
		{"recording rule name", `clientele:lag:max5m > 1`, []string{"clientele:lag:max5m"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := promqlMetricNames(c.expr)
			if !slices.Equal(got, c.want) {
				t.Errorf("promqlMetricNames(%q) = %q, want %q", c.expr, got, c.want)
			}
		})
	}
}

// promqlKeywords are words of PromQL that are not metric names when they
// stand without a parenthesis after them: operators, modifiers, and
// aggregations, which "by" or "without" may follow.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"inf": true, "nan": true, "start": true, "end": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// promqlLabelLists are words of PromQL followed by a list of label names.
var promqlLabelLists = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

var grafanaVariable = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)

// promqlMetricNames returns the sorted, distinct metric names that a PromQL
// expression selects by name. It skips strings, label matchers, ranges,
// function names and label lists, so a selector by {__name__=...} alone
// yields no name.
func promqlMetricNames(expr string) []string {
	s := grafanaVariable.ReplaceAllString(expr, "")
	seen := map[string]bool{}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '{':
			i = skipTo(s, i, '}')
		case c == '[':
			i = skipTo(s, i, ']')
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (isNameChar(s[i]) || s[i] == '.') {
				i++
			}
		case isNameStart(c):
			start := i
			for i < len(s) && isNameChar(s[i]) {
				i++
			}
			word := s[start:i]
			next := strings.TrimLeft(s[i:], " \t\n")
			switch {
			case promqlLabelLists[word] && strings.HasPrefix(next, "("):
				i = skipTo(s, i+strings.Index(s[i:], "("), ')')
			case strings.HasPrefix(next, "("), promqlKeywords[strings.ToLower(word)]:
			default:
				seen[word] = true
			}
		default:
			i++
		}
	}
	if len(seen) == 0 {
		return nil
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func isNameStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isNameChar(c byte) bool { return isNameStart(c) || c >= '0' && c <= '9' }

// skipString returns the index after the string literal that starts at i.
func skipString(s string, i int) int {
	quote := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quote != '`':
			i++
		case s[i] == quote:
			return i + 1
		}
	}
	return i
}

// skipTo returns the index after the first close at or after i that is
// not inside a string literal.
func skipTo(s string, i int, close byte) int {
	for i < len(s) {
		switch {
		case s[i] == '"' || s[i] == '\'' || s[i] == '`':
			i = skipString(s, i)
		case s[i] == close:
			return i + 1
		default:
			i++
		}
	}
	return i
}
