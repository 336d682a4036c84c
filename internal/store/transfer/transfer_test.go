package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

type quiet struct{}

func (quiet) Infof(string, ...any)         {}
func (quiet) Errorf(string, ...any)        {}
func (quiet) Fatalf(f string, args ...any) { panic(f) }

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{Logger: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestFileRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	h, err := ImportFromFile(ctx, st, store.SessionRef{UID: "a", Name: "debug-memory-leak"}, "../testdata/tutorial-memory-leak.json", store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Messages != 7 || h.Project != "E-Commerce API" {
		t.Fatalf("imported header = %+v", h)
	}
	if _, err := st.AppendMessage(ctx, "a", store.Message{Role: "assistant", Content: "use <b>TTL</b> & LRU"}, store.Limits{}); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "a.json")
	if err := ExportToFile(ctx, st, "a", path, ExportOptions{State: "suspended"}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v, mode %v", err, info.Mode())
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte("{\n  \"id\": \"debug-memory-leak\",\n  \"created_at\": \"2025-09-02T10:00:00+00:00\",\n  \"state\": \"suspended\",")) {
		t.Fatalf("file does not start like a tutorial document:\n%.200s", data)
	}
	if !bytes.Contains(data, []byte("use <b>TTL</b> & LRU")) {
		t.Fatal("HTML characters were escaped")
	}

	if _, err := ImportFromFile(ctx, st, store.SessionRef{UID: "b", Name: "debug-memory-leak"}, path, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	da, _ := st.Export(ctx, "a")
	db, _ := st.Export(ctx, "b")
	if !reflect.DeepEqual(da, db) {
		t.Fatalf("re-imported session differs:\n%+v\n%+v", da, db)
	}
	var buf bytes.Buffer
	if err := Export(ctx, st, "b", &buf, ExportOptions{Compact: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "\n") != 1 || !json.Valid(buf.Bytes()) {
		t.Fatalf("compact export is not one JSON line: %.200s", buf.String())
	}
}

func TestExportMissingSessionLeavesNoFile(t *testing.T) {
	st := openStore(t)
	dir := t.TempDir()
	err := ExportToFile(context.Background(), st, "nope", filepath.Join(dir, "x.json"), ExportOptions{})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left files behind: %v", entries)
	}
}

func TestImportInvalidWritesNothing(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	_, err := Import(ctx, st, store.SessionRef{UID: "a"}, strings.NewReader(`{"conversation_history":[{"role":"bot","content":"x"}]}`), store.ImportOptions{})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	_, err = Import(ctx, st, store.SessionRef{UID: "a"}, strings.NewReader(`not json`), store.ImportOptions{})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	if _, err := st.Get(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session exists after failed imports: %v", err)
	}
	_, err = ImportFromFile(ctx, st, store.SessionRef{UID: "a"}, filepath.Join(t.TempDir(), "missing.json"), store.ImportOptions{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}
