package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
)

// exportDoc builds the document from one consistent snapshot.
func exportDoc(ctx context.Context, r pebble.Reader, uid string) (*Document, error) {
	h, err := readHeader(r, uid)
	if err != nil {
		return nil, err
	}
	doc := &Document{
		ID: h.Name, CreatedAt: formatTime(h.Created), Project: h.Project,
		Context:             map[string]DocContext{},
		Discoveries:         DocDiscoveries{},
		ConversationHistory: []DocMessage{},
	}
	if doc.ID == "" {
		doc.ID = h.UID
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
			doc.Context[string(k[len(cp):])] = DocContext{
				Value: rec.Value, AddedAt: formatTime(rec.AddedAt),
				UpdatedAt: formatTime(rec.UpdatedAt), Type: rec.Type,
			}
		case bytes.HasPrefix(k, mp):
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			doc.ConversationHistory = append(doc.ConversationHistory, DocMessage{
				Role: m.Role, Content: m.Content, Timestamp: formatTime(m.Timestamp), Metadata: m.Metadata,
			})
		case bytes.HasPrefix(k, dp):
			d, err := decodeDiscovery(v)
			if err != nil {
				return err
			}
			doc.Discoveries = append(doc.Discoveries, DocDiscovery{
				Title: d.Title, Description: d.Description,
				Relevance: json.RawMessage(strconv.FormatFloat(d.Relevance, 'g', -1, 64)),
				Timestamp: formatTime(d.Timestamp),
			})
		case bytes.Equal(k, xk):
			if err := json.Unmarshal(v, &doc.Extra); err != nil {
				return fmt.Errorf("decode extra fields: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// Export returns the session as a tutorial-format document, read from one
// consistent snapshot. State is left empty (see Document.State).
func (s *Store) Export(ctx context.Context, uid string) (*Document, error) {
	doc, err := s.export(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("export session %s: %w", uid, err)
	}
	return doc, nil
}

func (s *Store) export(ctx context.Context, uid string) (*Document, error) {
	done, err := s.enter(ctx, uid)
	if err != nil {
		return nil, err
	}
	defer done()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	return exportDoc(ctx, snap, uid)
}
