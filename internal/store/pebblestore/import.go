package pebblestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Import writes doc as session ref in one synced batch: either the whole
// document is stored or, on any error, nothing changes. The document is
// checked by store.PlanImport: its format, then every record against the
// rules and limits of a single write (an *InvalidError or *LimitError
// names the record). Sequence numbers are assigned 1..n in document order.
// ref.Project, when empty, is taken from the document.
func (s *Store) Import(ctx context.Context, ref store.SessionRef, doc *document.Document, opts store.ImportOptions) (Header, error) {
	h, err := s.importDoc(ctx, ref, doc, opts)
	if err != nil {
		return Header{}, fmt.Errorf("import session %s: %w", ref.UID, err)
	}
	return h, nil
}

func (s *Store) importDoc(ctx context.Context, ref store.SessionRef, doc *document.Document, opts store.ImportOptions) (Header, error) {
	plan, err := store.PlanImport(ref, doc, s.now(), opts.Limits)
	if err != nil {
		return Header{}, err
	}
	done, err := s.begin(ctx)
	if err != nil {
		return Header{}, err
	}
	defer done()
	size := 0
	for _, r := range plan.Records {
		size += len(r.Value) + len(r.Key) + len(ref.UID) + 48
	}
	b := s.db.NewBatchWithSize(size + 1024)
	defer b.Close()
	err = s.write(ref.UID, b, func(e *entry) (*Header, error) {
		if _, err := s.cachedHeader(e, ref.UID); err == nil {
			if !opts.Replace {
				return nil, store.ErrExists
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		// Clear the prefix even for a new session, so the result is exactly
		// the document whatever was there.
		p := sessionPrefix(ref.UID)
		if err := b.DeleteRange(p, prefixEnd(p), nil); err != nil {
			return nil, err
		}
		for _, r := range plan.Records {
			if err := b.Set(recordKey(ref.UID, r), r.Value, nil); err != nil {
				return nil, err
			}
		}
		return plan.Header, nil
	})
	if err != nil {
		return Header{}, err
	}
	return *plan.Header, nil
}
