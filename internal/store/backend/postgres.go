package backend

import (
	"context"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore"
)

func openPostgres(ctx context.Context, spec Spec, opts Options) (store.Store, error) {
	return pgstore.Open(ctx, spec.URL, pgstore.Options{Clock: opts.Clock, Logger: opts.Logger})
}
