package store

import (
	"encoding/json"
	"fmt"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
)

// Exporter builds a session's document from its stored records, so every
// backend exports the same bytes for the same session: a backend reads the
// header and then feeds every record, in any order of kinds but messages
// and discoveries in sequence order.
type Exporter struct {
	recs document.Records
}

// NewExporter starts the export of the session with header h.
func NewExporter(h Header) *Exporter {
	e := &Exporter{recs: document.Records{ID: h.Name, Created: h.Created, Project: h.Project}}
	if e.recs.ID == "" {
		e.recs.ID = h.UID
	}
	return e
}

// Add adds one stored record of the given kind (KindExtra for the unknown
// top-level fields of an imported document).
func (e *Exporter) Add(kind Kind, key string, raw []byte) error {
	switch kind {
	case KindContext:
		rec, err := DecodeContext(raw)
		if err != nil {
			return err
		}
		e.recs.Context = append(e.recs.Context, document.ContextRecord{
			Key: key, Value: rec.Value, AddedAt: rec.AddedAt, UpdatedAt: rec.UpdatedAt, Type: rec.Type,
		})
	case KindMessage:
		m, err := DecodeMessage(raw)
		if err != nil {
			return err
		}
		e.recs.Messages = append(e.recs.Messages, document.MessageRecord{
			Role: m.Role, Content: m.Content, Timestamp: m.Timestamp, Metadata: m.Metadata,
		})
	case KindDiscovery:
		d, err := DecodeDiscovery(raw)
		if err != nil {
			return err
		}
		e.recs.Discoveries = append(e.recs.Discoveries, document.DiscoveryRecord{
			Title: d.Title, Description: d.Description, Relevance: d.Relevance, Timestamp: d.Timestamp,
		})
	case KindExtra:
		if err := json.Unmarshal(raw, &e.recs.Extra); err != nil {
			return fmt.Errorf("decode extra fields: %w", err)
		}
	default:
		return fmt.Errorf("export: unknown record kind %q", kind)
	}
	return nil
}

// Document is the session's document; its state is left empty (the store
// does not own lifecycle, the caller fills it).
func (e *Exporter) Document() *document.Document { return document.Export(e.recs) }
