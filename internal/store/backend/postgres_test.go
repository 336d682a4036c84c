package backend

import (
	"testing"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store/storetest"
)

// postgresBackend is the PostgreSQL backend when a server is at hand.
func postgresBackend(t testing.TB) (storetest.Backend, bool) {
	t.Helper()
	t.Log("postgres: not built yet")
	return storetest.Backend{}, false
}
