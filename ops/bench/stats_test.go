package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var l latencies
	for i := 100; i >= 1; i-- {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{
		{50, 50 * time.Millisecond},
		{99, 99 * time.Millisecond},
		{99.9, 100 * time.Millisecond},
		{100, 100 * time.Millisecond},
		{0.1, time.Millisecond},
	}
	for _, tc := range tests {
		if got := l.percentile(tc.p); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := latencies(nil).percentile(99); got != 0 {
		t.Errorf("percentile of no samples = %v, want 0", got)
	}
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name    string
		res     Result
		inverse bool
		ratio   float64
		met     bool
	}{
		{"rate above target", Result{Clientele: 95, Baseline: 100, Target: Target{Figure: "ratio", Op: ">=", Value: 0.9}}, false, 0.95, true},
		{"rate below target", Result{Clientele: 80, Baseline: 100, Target: Target{Figure: "ratio", Op: ">=", Value: 0.9}}, false, 0.8, false},
		{"latency within target", Result{Clientele: 3, Baseline: 2, Target: Target{Figure: "ratio", Op: "<=", Value: 1.5}}, false, 1.5, true},
		{"restart ten times faster", Result{Clientele: 1, Baseline: 12, Target: Target{Figure: "ratio", Op: ">=", Value: 10}}, true, 12, true},
		{"heap over target", Result{Clientele: 300, Target: Target{Figure: "value", Op: "<=", Value: 256}}, false, 0, false},
		{"skipped", Result{Skipped: "prosody not installed", Target: Target{Figure: "ratio", Op: "<=", Value: 1.5}}, false, 0, false},
		{"no target", Result{Clientele: 5, Baseline: 1}, false, 5, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.res.judge(tc.inverse)
			if tc.res.Ratio != tc.ratio || tc.res.Met != tc.met {
				t.Errorf("ratio %v met %v, want %v and %v", tc.res.Ratio, tc.res.Met, tc.ratio, tc.met)
			}
		})
	}
}

func TestFormatNumber(t *testing.T) {
	tests := map[float64]string{1234567: "1,234,567", 256: "256", 12.345: "12.3", 1.5: "1.50", 0.1234: "0.123", -4321: "-4,321"}
	for x, want := range tests {
		if got := formatNumber(x); got != want {
			t.Errorf("formatNumber(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		values []float64
		want   float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tc := range tests {
		if got := median(tc.values); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.values, got, tc.want)
		}
	}
}

func TestPairedRatios(t *testing.T) {
	got := pairedRatios([]float64{50, 300, 90}, []float64{100, 200, 0, 7})
	want := []float64{0.5, 1.5}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("pairedRatios = %v, want %v", got, want)
	}
	if got := pairedRatios(nil, nil); len(got) != 1 || got[0] != 0 {
		t.Errorf("pairedRatios of no rounds = %v, want [0]", got)
	}
}
