package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parse reads results with benchfmt, keeps the units as reported, follows
// pkg: lines and drops the GOMAXPROCS suffix the targets do not name.
func TestParse(t *testing.T) {
	in := strings.Join([]string{
		"goos: linux",
		"pkg: example.com/m/internal/store",
		"BenchmarkAppendDurable/sessions=64-2   \t  1000\t  1234 ns/op\t 21000 appends/s",
		"a log line",
		"BenchmarkAppendLatency-16 100 1.1 p99-ratio",
		"PASS",
		"pkg: example.com/m/controllers",
		"BenchmarkSuspend10k 1 500 p99-ms 150 heap-MiB",
		"BenchmarkBroken-2 not-a-count",
	}, "\n") + "\n"
	got, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Figure{
		{Package: "example.com/m/internal/store", Benchmark: "BenchmarkAppendDurable/sessions=64", Metric: "ns/op", Value: 1234},
		{Package: "example.com/m/internal/store", Benchmark: "BenchmarkAppendDurable/sessions=64", Metric: "appends/s", Value: 21000},
		{Package: "example.com/m/internal/store", Benchmark: "BenchmarkAppendLatency", Metric: "p99-ratio", Value: 1.1},
		{Package: "example.com/m/controllers", Benchmark: "BenchmarkSuspend10k", Metric: "p99-ms", Value: 500},
		{Package: "example.com/m/controllers", Benchmark: "BenchmarkSuspend10k", Metric: "heap-MiB", Value: 150},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parse (-want +got):\n%s", diff)
	}
}

// Each run's raw output is read and dated; a run not made yet is named.
func TestReadRuns(t *testing.T) {
	dir := t.TempDir()
	bench := filepath.Join(dir, "raw.txt")
	if err := os.WriteFile(bench, []byte("pkg: example.com/m/internal/e2e\nBenchmarkScale-2 1 0 ns/op 350 rss-peak-MiB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, sources, err := readRuns([]string{bench, filepath.Join(dir, "raw-scale.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Metric != "rss-peak-MiB" || got[1].Value != 350 || got[1].Benchmark != "BenchmarkScale" {
		t.Errorf("figures = %+v", got)
	}
	if len(sources) != 2 || !strings.HasPrefix(sources[0], "raw.txt: written ") || sources[1] != "raw-scale.txt: not run" {
		t.Errorf("sources = %q", sources)
	}
}
