package backend

import (
	"log"
	"testing"

	"k8s.io/utils/clock"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/storetest"
)

// quietLogger drops Pebble's informational lines ("Found 0 WALs").
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(f string, args ...any) { log.Printf(f, args...) }
func (quietLogger) Fatalf(f string, args ...any) { log.Fatalf(f, args...) }

// pebbleBackend opens Pebble stores in fresh folders.
var pebbleBackend = storetest.Backend{Name: Pebble, New: func(t testing.TB) storetest.Opener {
	dir := t.TempDir()
	return func(t testing.TB, clk clock.PassiveClock) store.Store {
		st, err := pebblestore.Open(dir, pebblestore.Options{Clock: clk, MemTableSize: 4 << 20, CacheSize: 8 << 20, Logger: quietLogger{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
}}

// backends are the backends this run can test: Pebble always, PostgreSQL
// when a server is at hand (see postgresBackend).
func backends(t testing.TB) []storetest.Backend {
	out := []storetest.Backend{pebbleBackend}
	if b, ok := postgresBackend(t); ok {
		out = append(out, b)
	}
	return out
}

// TestContract runs the store contract against every backend.
func TestContract(t *testing.T) {
	t.Run(Pebble, func(t *testing.T) { storetest.Run(t, pebbleBackend) })
	t.Run(Postgres, func(t *testing.T) {
		b, ok := postgresBackend(t)
		if !ok {
			t.SkipNow()
		}
		storetest.Run(t, b)
	})
}

func FuzzImportDocument(f *testing.F) { storetest.FuzzImport(f, backends(f)) }

func FuzzSetContext(f *testing.F) { storetest.FuzzSetContext(f, backends(f)) }
