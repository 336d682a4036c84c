package pebblestore

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/storetest"
)

// fileSession is the tutorial's file-based approach, the baseline the
// store is compared against: the whole session is one JSON document
// (json.dump(indent=2)), rewritten and fsynced on every write. The document
// stays in memory between writes, like the tutorial's session_cache, which
// spares the baseline re-reading the file and so flatters it. Rewriting in
// place is also not crash-safe (a crash mid-write loses the session); the
// safe variant (temporary file, fsync, rename, fsync of the directory)
// would be slower still.
type fileSession struct {
	path string
	doc  document.Document
}

func newFileSession(tb testing.TB, dir, id string, messages int) *fileSession {
	tb.Helper()
	f := &fileSession{path: filepath.Join(dir, id+".json"), doc: document.Document{
		ID: id, CreatedAt: time.Now().UTC().Format(time.RFC3339Nano), State: "active", Project: "bench",
		Context: map[string]document.Context{}, ConversationHistory: make([]document.Message, 0, messages),
	}}
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	for i := 0; i < messages; i++ {
		f.doc.ConversationHistory = append(f.doc.ConversationHistory, document.Message{Role: []string{"user", "assistant"}[i%2], Content: payload1K, Timestamp: ts})
	}
	if err := f.save(); err != nil {
		tb.Fatal(err)
	}
	return f
}

func (f *fileSession) save() error {
	data, err := json.MarshalIndent(f.doc, "", "  ")
	if err != nil {
		return err
	}
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := fh.Write(data); err != nil {
		_ = fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		_ = fh.Close()
		return err
	}
	return fh.Close()
}

func (f *fileSession) appendMessage(role, content string) error {
	f.doc.ConversationHistory = append(f.doc.ConversationHistory, document.Message{Role: role, Content: content, Timestamp: time.Now().UTC().Format(time.RFC3339Nano)})
	return f.save()
}

// TestFileBaselineWritesTheDocument keeps the baseline honest: what it
// writes is a complete, parseable session document.
func TestFileBaselineWritesTheDocument(t *testing.T) {
	f := newFileSession(t, t.TempDir(), "base", 3)
	if err := f.appendMessage("user", "one more"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := document.Parse(data)
	if err != nil || len(doc.ConversationHistory) != 4 || doc.ConversationHistory[3].Content != "one more" {
		t.Fatalf("baseline file: %v, %+v", err, doc)
	}
}

// BenchmarkFileBaselineAppend is BenchmarkAppendDurable's workload on the
// file baseline: one goroutine per session, sessions starting at 1,000
// messages, every append durable before it returns.
func BenchmarkFileBaselineAppend(b *testing.B) {
	for _, sessions := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			dir := b.TempDir()
			files := make([]*fileSession, sessions)
			for i := range files {
				files[i] = newFileSession(b, dir, fmt.Sprintf("s%d", i), 1000)
			}
			per := (b.N + sessions - 1) / sessions
			var wg sync.WaitGroup
			errs := make(chan error, sessions)
			b.ResetTimer()
			start := time.Now()
			for _, f := range files {
				wg.Add(1)
				go func(f *fileSession) {
					defer wg.Done()
					for i := 0; i < per; i++ {
						if err := f.appendMessage("user", payload1K); err != nil {
							errs <- err
							return
						}
					}
				}(f)
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(per*sessions)/elapsed.Seconds(), "appends/s")
		})
	}
}

// BenchmarkFileBaselineLatency measures single appends on the file baseline
// at 1,000 and 10,000 messages (100,000 would take hours at this cost; the
// figures are measured, not extrapolated). Sessions grow by b.N.
func BenchmarkFileBaselineLatency(b *testing.B) {
	for _, size := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			f := newFileSession(b, b.TempDir(), "s", size)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t := time.Now()
				if err := f.appendMessage("user", payload1K); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(us(storetest.Percentile(lat, 0.50)), "p50-us")
			b.ReportMetric(us(storetest.Percentile(lat, 0.99)), "p99-us")
		})
	}
}
