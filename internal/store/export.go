package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
)

// Export returns the session as a tutorial-format document, read from one
// consistent snapshot. Its state is left empty: the store does not own
// lifecycle, the caller (which can read the McpSession) fills it.
func (s *Store) Export(ctx context.Context, uid string) (*document.Document, error) {
	var recs *document.Records
	err := s.read(ctx, uid, func(snap *pebble.Snapshot) error {
		var err error
		recs, err = exportRecords(ctx, snap, uid)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("export session %s: %w", uid, err)
	}
	return document.Export(*recs), nil
}

// exportRecords reads every record of a session in key order.
func exportRecords(ctx context.Context, r pebble.Reader, uid string) (*document.Records, error) {
	h, err := readHeader(r, uid)
	if err != nil {
		return nil, err
	}
	recs := &document.Records{ID: h.Name, Created: h.Created, Project: h.Project}
	if recs.ID == "" {
		recs.ID = h.UID
	}
	p := sessionPrefix(uid)
	cp, mp, dp, xk := ctxPrefix(uid), msgPrefix(uid), discPrefix(uid), extraKey(uid)
	err = scan(ctx, r, p, prefixEnd(p), false, func(k, v []byte) error {
		switch {
		case bytes.HasPrefix(k, cp):
			rec, err := decodeContext(v)
			if err != nil {
				return err
			}
			recs.Context = append(recs.Context, document.ContextRecord{
				Key: string(k[len(cp):]), Value: rec.Value, AddedAt: rec.AddedAt, UpdatedAt: rec.UpdatedAt, Type: rec.Type,
			})
		case bytes.HasPrefix(k, mp):
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			recs.Messages = append(recs.Messages, document.MessageRecord{
				Role: m.Role, Content: m.Content, Timestamp: m.Timestamp, Metadata: m.Metadata,
			})
		case bytes.HasPrefix(k, dp):
			d, err := decodeDiscovery(v)
			if err != nil {
				return err
			}
			recs.Discoveries = append(recs.Discoveries, document.DiscoveryRecord{
				Title: d.Title, Description: d.Description, Relevance: d.Relevance, Timestamp: d.Timestamp,
			})
		case bytes.Equal(k, xk):
			if err := json.Unmarshal(v, &recs.Extra); err != nil {
				return fmt.Errorf("decode extra fields: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return recs, nil
}
