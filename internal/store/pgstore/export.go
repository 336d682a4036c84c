package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Export returns the session as a tutorial-format document, read at one
// point in time. Its state is left empty: the store does not own
// lifecycle, the caller (which can read the McpSession) fills it.
func (s *Store) Export(ctx context.Context, uid string) (*document.Document, error) {
	doc, err := s.export(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("export session %s: %w", uid, err)
	}
	return doc, nil
}

func (s *Store) export(ctx context.Context, uid string) (*document.Document, error) {
	done, err := s.enter(ctx, uid)
	if err != nil {
		return nil, err
	}
	defer done()
	var doc *document.Document
	err = s.readTx(ctx, func(tx pgx.Tx) error {
		h, err := readHeader(ctx, tx, uid, false)
		if err != nil {
			return err
		}
		e := store.NewExporter(*h)
		var extra []byte
		if err := tx.QueryRow(ctx, `SELECT extra FROM mcp_sessions WHERE uid = $1`, uid).Scan(&extra); err != nil {
			return err
		}
		if extra != nil {
			if err := e.Add(store.KindExtra, "", extra); err != nil {
				return err
			}
		}
		for _, part := range []struct {
			kind store.Kind
			sql  string
		}{
			{store.KindContext, `SELECT key, rec FROM mcp_context WHERE uid = $1 ORDER BY key`},
			{store.KindMessage, `SELECT NULL::bytea, rec FROM mcp_messages WHERE uid = $1 ORDER BY seq`},
			{store.KindDiscovery, `SELECT NULL::bytea, rec FROM mcp_discoveries WHERE uid = $1 ORDER BY seq`},
		} {
			rows, err := tx.Query(ctx, part.sql, uid)
			if err != nil {
				return err
			}
			var key, rec []byte
			if _, err := pgx.ForEachRow(rows, []any{&key, &rec}, func() error { return e.Add(part.kind, string(key), rec) }); err != nil {
				return err
			}
		}
		doc = e.Document()
		return nil
	})
	return doc, err
}
