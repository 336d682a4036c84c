package pebblestore

import (
	"context"
	"log"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/storetest"
)

// The store's behaviour is the contract's (internal/store/storetest, run
// for every backend by internal/store/backend); the tests here are about
// Pebble itself: keys, the WAL, crashes, metrics.

type (
	Message    = store.Message
	SessionRef = store.SessionRef
)

var bg = context.Background()

// newStepClock is the contract suite's deterministic clock.
func newStepClock() *storetest.StepClock { return storetest.NewStepClock() }

// quietLogger drops Pebble's informational lines ("Found 0 WALs") that
// would otherwise fill test output.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(f string, args ...any) { log.Printf(f, args...) }
func (quietLogger) Fatalf(f string, args ...any) { log.Fatalf(f, args...) }

func openTest(t testing.TB) *Store {
	t.Helper()
	return openAt(t, t.TempDir())
}

func openAt(t testing.TB, dir string) *Store {
	t.Helper()
	st, err := Open(dir, Options{Clock: newStepClock(), MemTableSize: 4 << 20, CacheSize: 8 << 20, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func mustCreate(t testing.TB, st *Store, uid string) Header {
	t.Helper()
	h, err := st.Create(context.Background(), SessionRef{UID: uid, Namespace: "team-a", Name: "session-" + uid, Project: "E-Commerce API"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// dump returns every key and value, to compare whole-database states.
func dump(t testing.TB, st *Store) map[string]string {
	t.Helper()
	it, err := st.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for ok := it.First(); ok; ok = it.Next() {
		out[string(it.Key())] = string(it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}
