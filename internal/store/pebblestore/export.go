package pebblestore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Export returns the session as a tutorial-format document, read from one
// consistent snapshot. Its state is left empty: the store does not own
// lifecycle, the caller (which can read the McpSession) fills it.
func (s *Store) Export(ctx context.Context, uid string) (*document.Document, error) {
	var doc *document.Document
	err := s.read(ctx, uid, func(snap *pebble.Snapshot) error {
		var err error
		doc, err = exportSession(ctx, snap, uid)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("export session %s: %w", uid, err)
	}
	return doc, nil
}

// exportSession reads every record of a session in key order.
func exportSession(ctx context.Context, r pebble.Reader, uid string) (*document.Document, error) {
	h, err := readHeader(r, uid)
	if err != nil {
		return nil, err
	}
	e := store.NewExporter(*h)
	p := sessionPrefix(uid)
	cp, mp, dp, xk := ctxPrefix(uid), msgPrefix(uid), discPrefix(uid), extraKey(uid)
	err = scan(ctx, r, p, prefixEnd(p), false, func(k, v []byte) error {
		switch {
		case bytes.HasPrefix(k, cp):
			return e.Add(store.KindContext, string(k[len(cp):]), v)
		case bytes.HasPrefix(k, mp):
			return e.Add(store.KindMessage, "", v)
		case bytes.HasPrefix(k, dp):
			return e.Add(store.KindDiscovery, "", v)
		case bytes.Equal(k, xk):
			return e.Add(store.KindExtra, "", v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e.Document(), nil
}
