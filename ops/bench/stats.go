package bench

import (
	"slices"
	"time"
)

// latencies collects round-trip times and returns their percentiles.
type latencies []time.Duration

// percentile returns the p-th percentile (0 < p <= 100) by the nearest-rank
// method, or 0 for no samples. It sorts l.
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	rank := int(p/100*float64(len(l))+0.999999) - 1
	return l[min(max(rank, 0), len(l)-1)]
}

// milliseconds returns d in milliseconds as a float.
func milliseconds(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// rate returns n per second of d, or 0 when d is not positive.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// median returns the median of values, the mean of the middle two for an
// even count, or 0 for none. It sorts values.
func median(values []float64) float64 {
	n := len(values)
	if n == 0 {
		return 0
	}
	slices.Sort(values)
	if n%2 == 1 {
		return values[n/2]
	}
	return (values[n/2-1] + values[n/2]) / 2
}
