package backend

import (
	"testing"

	"k8s.io/utils/clock"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore/pgtest"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/storetest"
)

// postgresBackend opens PostgreSQL stores, each test on a database of its
// own, when a server is at hand (make test provides one); otherwise it
// logs why the PostgreSQL half is skipped.
func postgresBackend(t testing.TB) (storetest.Backend, bool) {
	t.Helper()
	if r := pgtest.SkipReason(); r != "" {
		t.Log("PostgreSQL backend skipped: " + r)
		return storetest.Backend{}, false
	}
	return storetest.Backend{Name: Postgres, Shared: true, New: func(t testing.TB) storetest.Opener {
		url := pgtest.NewDatabase(t)
		return func(t testing.TB, clk clock.PassiveClock) store.Store {
			st, err := pgstore.Open(t.Context(), url, pgstore.Options{Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		}
	}}, true
}
