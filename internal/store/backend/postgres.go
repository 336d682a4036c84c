package backend

import (
	"context"
	"errors"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

func openPostgres(context.Context, Spec, Options) (store.Store, error) {
	return nil, errors.New("the PostgreSQL store is not built yet")
}
