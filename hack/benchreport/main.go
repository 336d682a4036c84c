// Command benchreport turns `go test -bench` output (the files named on the
// command line, one per benchmark run, else stdin) into the project's
// benchmark report: a markdown table and a JSON file with every measured
// figure, the target it is held to (hack/bench-targets.tsv) and whether it
// met it, plus the machine it ran on and when each input was written.
//
//	benchreport -out bin/bench bin/bench/raw.txt bin/bench/raw-scale.txt
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

// Figure is one measured metric of one benchmark.
type Figure struct {
	Package   string  `json:"package"`
	Benchmark string  `json:"benchmark"`
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
	Target    string  `json:"target,omitempty"`
	Met       *bool   `json:"met,omitempty"`
	Note      string  `json:"note,omitempty"`
}

// Ratio compares two measured figures, e.g. the store against the
// file-per-session baseline: a "ratio" row of the TSV.
type Ratio struct {
	name                 string
	num, den             *regexp.Regexp
	numMetric, denMetric string
	op                   string
	bound                float64
}

// Target holds a figure to a bound: "metric <= 2000" style, from the TSV.
type Target struct {
	bench  *regexp.Regexp
	metric string
	op     string
	bound  float64
	note   string
}

func main() {
	targetsPath := flag.String("targets", "hack/bench-targets.tsv", "TSV: benchmark-regexp, metric, op (<= or >=), bound, note.")
	outDir := flag.String("out", "bin/bench", "Folder for report.md and report.json.")
	flag.Parse()
	targets, ratios, err := loadTargets(*targetsPath)
	if err != nil {
		fail(err)
	}
	var figures []Figure
	var sources []string
	if flag.NArg() == 0 {
		figures, err = parse(io.TeeReader(os.Stdin, os.Stdout))
	} else {
		figures, sources, err = readRuns(flag.Args())
	}
	if err != nil {
		fail(err)
	}
	for i := range figures {
		apply(&figures[i], targets)
	}
	figures = append(figures, computeRatios(figures, ratios)...)
	if err := write(*outDir, figures, sources); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchreport:", err)
	os.Exit(1)
}

// readRuns parses the raw output of each run, and says for each when it
// was written; a run that has not happened yet (make bench-scale before
// make bench, say) is left out and said so.
func readRuns(paths []string) ([]Figure, []string, error) {
	var figures []Figure
	var sources []string
	for _, path := range paths {
		f, err := os.Open(path)
		if os.IsNotExist(err) {
			sources = append(sources, fmt.Sprintf("%s: not run", filepath.Base(path)))
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		st, err := f.Stat()
		if err == nil {
			var got []Figure
			if got, err = parse(f); err == nil {
				figures = append(figures, got...)
				sources = append(sources, fmt.Sprintf("%s: written %s", filepath.Base(path), st.ModTime().UTC().Format(time.RFC3339)))
			}
		}
		_ = f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return figures, sources, nil
}

// parse reads `go test -bench` output with golang.org/x/perf/benchfmt
// (which also follows the `pkg:` lines naming each result's package).
// Lines that are not results (logs, PASS) are skipped; a malformed result
// line is reported and skipped.
func parse(r io.Reader) ([]Figure, error) {
	var out []Figure
	br := benchfmt.NewReader(r, "stdin")
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			fmt.Fprintln(os.Stderr, "benchreport: skipping", rec)
		case *benchfmt.Result:
			name := benchmarkName(rec.Name)
			for _, v := range rec.Values {
				// The unit as the benchmark reported it, which the targets
				// name: benchfmt tidies some (ns/op to sec/op) and then
				// keeps the original in OrigUnit.
				unit, value := v.Unit, v.Value
				if v.OrigUnit != "" {
					unit, value = v.OrigUnit, v.OrigValue
				}
				out = append(out, Figure{Package: rec.GetConfig("pkg"), Benchmark: name, Metric: unit, Value: value})
			}
		}
	}
	return out, br.Err()
}

// benchmarkName is the name a target matches: "Benchmark" and the
// sub-benchmark path, without the GOMAXPROCS suffix.
func benchmarkName(n benchfmt.Name) string {
	base, parts := n.Parts()
	var b strings.Builder
	b.WriteString("Benchmark")
	b.Write(base)
	for _, p := range parts {
		if len(p) > 0 && p[0] == '-' { // GOMAXPROCS, always last
			break
		}
		b.Write(p)
	}
	return b.String()
}

// loadTargets reads target rows (benchmark-regexp, metric, op, bound,
// note) and ratio rows ("ratio", name, numerator-regexp, metric,
// denominator-regexp, metric[, op, bound]).
func loadTargets(path string) ([]Target, []Ratio, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var ts []Target
	var rs []Ratio
	for n, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if f[0] == "ratio" {
			r, err := parseRatio(f)
			if err != nil {
				return nil, nil, fmt.Errorf("%s:%d: %w", path, n+1, err)
			}
			rs = append(rs, r)
			continue
		}
		if len(f) < 4 {
			return nil, nil, fmt.Errorf("%s:%d: want 4 or 5 tab-separated fields", path, n+1)
		}
		re, err := regexp.Compile(f[0])
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, n+1, err)
		}
		bound, err := strconv.ParseFloat(f[3], 64)
		if err != nil || (f[2] != "<=" && f[2] != ">=") {
			return nil, nil, fmt.Errorf("%s:%d: want op <= or >= and a number", path, n+1)
		}
		t := Target{bench: re, metric: f[1], op: f[2], bound: bound}
		if len(f) > 4 {
			t.note = f[4]
		}
		ts = append(ts, t)
	}
	return ts, rs, nil
}

func parseRatio(f []string) (Ratio, error) {
	if len(f) != 6 && len(f) != 8 {
		return Ratio{}, fmt.Errorf("ratio rows have 6 or 8 fields, got %d", len(f))
	}
	num, err := regexp.Compile(f[2])
	if err != nil {
		return Ratio{}, err
	}
	den, err := regexp.Compile(f[4])
	if err != nil {
		return Ratio{}, err
	}
	r := Ratio{name: f[1], num: num, numMetric: f[3], den: den, denMetric: f[5]}
	if len(f) == 8 {
		if r.bound, err = strconv.ParseFloat(f[7], 64); err != nil || (f[6] != "<=" && f[6] != ">=") {
			return Ratio{}, fmt.Errorf("want op <= or >= and a number")
		}
		r.op = f[6]
	}
	return r, nil
}

// computeRatios adds one figure per ratio whose two sides were measured.
func computeRatios(figures []Figure, ratios []Ratio) []Figure {
	find := func(re *regexp.Regexp, metric string) (Figure, bool) {
		for _, f := range figures {
			if f.Metric == metric && re.MatchString(f.Benchmark) {
				return f, true
			}
		}
		return Figure{}, false
	}
	var out []Figure
	for _, r := range ratios {
		n, ok1 := find(r.num, r.numMetric)
		d, ok2 := find(r.den, r.denMetric)
		if !ok1 || !ok2 || d.Value == 0 {
			continue
		}
		f := Figure{
			Package: n.Package, Benchmark: "ratio: " + r.name, Metric: "x",
			Value: float64(int(n.Value/d.Value*1000+0.5)) / 1000,
			Note:  fmt.Sprintf("%s %s / %s %s", n.Benchmark, r.numMetric, d.Benchmark, r.denMetric),
		}
		if r.op != "" {
			apply(&f, []Target{{bench: regexp.MustCompile("."), metric: "x", op: r.op, bound: r.bound, note: f.Note}})
		}
		out = append(out, f)
	}
	return out
}

func apply(f *Figure, targets []Target) {
	for _, t := range targets {
		if t.metric != f.Metric || !t.bench.MatchString(f.Benchmark) {
			continue
		}
		met := f.Value <= t.bound
		if t.op == ">=" {
			met = f.Value >= t.bound
		}
		f.Target = fmt.Sprintf("%s %s", t.op, strconv.FormatFloat(t.bound, 'g', -1, 64))
		f.Met = &met
		f.Note = t.note
		return
	}
}

func write(dir string, figures []Figure, sources []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	host, _ := os.Hostname()
	machine := fmt.Sprintf("%s/%s, %d CPUs, %s, host %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), host)
	if m := cpuModel(); m != "" {
		machine += ", " + m
	}
	now := time.Now().UTC().Format(time.RFC3339)

	var md strings.Builder
	fmt.Fprintf(&md, "# Benchmark report\n\nRun %s on %s.\n\n", now, machine)
	if len(sources) > 0 {
		fmt.Fprintf(&md, "From %s.\n\n", strings.Join(sources, "; "))
	}
	md.WriteString("| package | benchmark | metric | value | target | met | note |\n|---|---|---|---:|---|---|---|\n")
	for _, f := range figures {
		met := ""
		if f.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*f.Met]
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %s | %s | %s | %s |\n",
			filepath.Base(f.Package), f.Benchmark, f.Metric, strconv.FormatFloat(f.Value, 'f', -1, 64), f.Target, met, f.Note)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(map[string]any{"time": now, "machine": machine, "sources": sources, "figures": figures}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), js, 0o644); err != nil {
		return err
	}
	fmt.Println()
	fmt.Print(md.String())
	fmt.Printf("\nreport: %s, %s\n", filepath.Join(dir, "report.md"), filepath.Join(dir, "report.json"))
	return nil
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
