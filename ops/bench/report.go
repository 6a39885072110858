package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Target is the bound that a Result's figure must meet: Figure compared by
// Op (">=" or "<=") with Value. Figure is "ratio" for results with a
// baseline and "value" for the heap figure, which has none. The zero
// Target sets no bound, for figures that are reported only.
type Target struct {
	Figure string  `json:"figure"`
	Op     string  `json:"op"`
	Value  float64 `json:"value"`
}

// met reports whether x meets t.
func (t Target) met(x float64) bool {
	if t.Op == "" {
		return true
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return false
	}
	if t.Op == ">=" {
		return x >= t.Value
	}
	return x <= t.Value
}

func (t Target) String() string {
	if t.Op == "" {
		return "-"
	}
	if t.Figure == "ratio" {
		return fmt.Sprintf("ratio %s %s", t.Op, formatNumber(t.Value))
	}
	return fmt.Sprintf("%s %s", t.Op, formatNumber(t.Value))
}

// Result is one measurement of a run.
type Result struct {
	// Name is the stable key of the measurement, such as "catchup".
	Name string `json:"name"`
	// Title describes the measurement and its baseline.
	Title string `json:"title"`
	// Unit is the unit of Clientele and Baseline, such as "events/s".
	Unit      string  `json:"unit"`
	Clientele float64 `json:"clientele"`
	// Baseline is the figure of the bare NATS baseline; 0 when there is none.
	Baseline float64 `json:"baseline,omitempty"`
	// Ratio is Clientele/Baseline, except for restart, where it is
	// Baseline/Clientele: how many times faster than a replay.
	Ratio  float64 `json:"ratio,omitempty"`
	Target Target  `json:"target,omitzero"`
	// Met is true for a figure without a target, such as a median.
	Met bool `json:"met"`
	// Skipped gives the reason when the measurement did not run; the
	// figures are then zero and Met is false.
	Skipped string `json:"skipped,omitempty"`
	// Details are further figures of the measurement, such as counts and
	// the other percentiles.
	Details map[string]float64 `json:"details,omitempty"`
}

// judge sets r.Ratio from the figures and r.Met from the target.
func (r *Result) judge(inverse bool) {
	if r.Baseline > 0 && r.Clientele > 0 {
		if inverse {
			r.Ratio = r.Baseline / r.Clientele
		} else {
			r.Ratio = r.Clientele / r.Baseline
		}
	}
	x := r.Ratio
	if r.Target.Figure == "value" {
		x = r.Clientele
	}
	r.Met = r.Skipped == "" && r.Target.met(x)
}

// Machine describes where a run took place.
type Machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model"`
	MemoryMiB  int    `json:"memory_mib"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	NATSServer string `json:"nats_server"`
}

// Report is the outcome of a run.
type Report struct {
	Machine  Machine   `json:"machine"`
	Config   Config    `json:"config"`
	Started  time.Time `json:"started"`
	Duration float64   `json:"duration_seconds"`
	// LoadStart and LoadEnd are the one-minute load averages of the machine
	// when the run started and ended, from /proc/loadavg; -1 where unknown.
	// A load above the CPU count means that other programs competed with
	// the run, which makes its figures less certain.
	LoadStart float64  `json:"load_start"`
	LoadEnd   float64  `json:"load_end"`
	Results   []Result `json:"results"`
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable prints the results with their targets, one line each, after a
// line that describes the machine.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "%d CPUs (%s), %d MiB, %s %s, nats-server %s, %s, load %.1f to %.1f\n\n",
		m.CPUs, m.CPUModel, m.MemoryMiB, m.GoVersion, m.OS, m.NATSServer,
		time.Duration(r.Duration*float64(time.Second)).Round(time.Second), r.LoadStart, r.LoadEnd)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASUREMENT\tCLIENTELE\tBASELINE\tRATIO\tTARGET\tMET")
	for _, res := range r.Results {
		if res.Skipped != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\tskipped: %s\n", res.Title, res.Target, res.Skipped)
			continue
		}
		baseline, ratio := "-", "-"
		if res.Baseline > 0 {
			baseline = formatNumber(res.Baseline) + " " + res.Unit
		}
		if res.Ratio > 0 {
			ratio = formatNumber(res.Ratio)
		}
		met := "-"
		if res.Target.Op != "" {
			met = yesNo(res.Met)
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\t%s\n", res.Title, formatNumber(res.Clientele), res.Unit, baseline, ratio, res.Target, met)
	}
	return tw.Flush()
}

// AllMet reports whether every result that ran met its target.
func (r *Report) AllMet() bool {
	for _, res := range r.Results {
		if res.Skipped == "" && !res.Met {
			return false
		}
	}
	return true
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// formatNumber prints x with three significant digits, and with thousands
// separators from 1000 on.
func formatNumber(x float64) string {
	switch ax := math.Abs(x); {
	case ax >= 1000:
		return groupThousands(fmt.Sprintf("%.0f", x))
	case ax >= 100:
		return fmt.Sprintf("%.0f", x)
	case ax >= 10:
		return fmt.Sprintf("%.1f", x)
	case ax >= 1:
		return fmt.Sprintf("%.2f", x)
	default:
		return fmt.Sprintf("%.3f", x)
	}
}

func groupThousands(digits string) string {
	sign := ""
	if strings.HasPrefix(digits, "-") {
		sign, digits = "-", digits[1:]
	}
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}
