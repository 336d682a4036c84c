package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
)

// ImportOptions control Import.
type ImportOptions struct {
	// Replace lets Import overwrite an existing session (all of its data is
	// replaced in the same batch). Without it an existing UID is ErrExists.
	Replace bool
	// Limits are checked as on every other write: each value against
	// MaxValueBytes, the whole context against MaxContextBytes, the history
	// against MaxMessages.
	Limits Limits
}

// kv is one record to write.
type kv struct{ key, value []byte }

// Import writes doc as session ref in one synced batch: either the whole
// document is stored or, on any error, nothing changes. The document's
// format is checked by document.Plan; every record then obeys the rules
// and limits of a single write (an *InvalidError or *LimitError names the
// record). Sequence numbers are assigned 1..n in document order.
// ref.Project, when empty, is taken from the document.
func (s *Store) Import(ctx context.Context, ref SessionRef, doc *document.Document, opts ImportOptions) (Header, error) {
	h, err := s.importDoc(ctx, ref, doc, opts)
	if err != nil {
		return Header{}, fmt.Errorf("import session %s: %w", ref.UID, err)
	}
	return h, nil
}

func (s *Store) importDoc(ctx context.Context, ref SessionRef, doc *document.Document, opts ImportOptions) (Header, error) {
	now := s.now()
	recs, err := document.Plan(doc, now)
	if err != nil {
		return Header{}, err
	}
	h, kvs, err := planImport(ref, recs, now, opts.Limits)
	if err != nil {
		return Header{}, err
	}
	done, err := s.begin(ctx)
	if err != nil {
		return Header{}, err
	}
	defer done()
	size := 0
	for _, r := range kvs {
		size += len(r.key) + len(r.value) + 16
	}
	b := s.db.NewBatchWithSize(size + 1024)
	defer b.Close()
	err = s.write(ref.UID, b, func(e *entry) (*Header, error) {
		if _, err := s.cachedHeader(e, ref.UID); err == nil {
			if !opts.Replace {
				return nil, ErrExists
			}
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		// Clear the prefix even for a new session, so the result is exactly
		// the document whatever was there.
		p := sessionPrefix(ref.UID)
		if err := b.DeleteRange(p, prefixEnd(p), nil); err != nil {
			return nil, err
		}
		for _, r := range kvs {
			if err := b.Set(r.key, r.value, nil); err != nil {
				return nil, err
			}
		}
		return h, nil
	})
	if err != nil {
		return Header{}, err
	}
	return *h, nil
}

// CheckImport reports whether Import would accept doc under limits: the
// document's format, the rules every record obeys and the limits, checked
// as Import checks them, without writing anything. A caller that creates
// something else first (import_session creates the McpSession) checks
// before, so a refused document creates nothing at all.
func (s *Store) CheckImport(doc *document.Document, limits Limits) error {
	now := s.now()
	recs, err := document.Plan(doc, now)
	if err != nil {
		return err
	}
	_, _, err = planImport(SessionRef{UID: "check"}, recs, now, limits)
	return err
}

// planImport checks a document's records against the rules and limits of
// single writes and turns them into keys and values and a header, without
// touching the store, so a refused document cannot leave anything behind.
func planImport(ref SessionRef, recs *document.Records, now time.Time, limits Limits) (*Header, []kv, error) {
	if ref.Project == "" {
		ref.Project = recs.Project
	}
	if err := validRef(ref); err != nil {
		return nil, nil, err
	}
	h := newHeader(ref, recs.Created)
	h.LastActivity = now
	var out []kv
	add := func(k []byte, v any) error {
		enc, err := encodeJSON(v)
		if err != nil {
			return invalidf("cannot encode: %v", err)
		}
		out = append(out, kv{k, enc})
		h.StoredBytes += int64(len(k) + len(enc))
		return nil
	}

	for _, c := range recs.Context {
		rec, err := importContext(c, limits)
		if err == nil {
			err = add(ctxKey(ref.UID, c.Key), rec)
		}
		if err != nil {
			return nil, nil, atPath(document.ContextPath(c.Key), err)
		}
		h.ContextItems++
		h.ContextBytes += contextSize(c.Key, rec.Value)
	}
	if err := checkContext(limits, 0, h.ContextBytes); err != nil {
		return nil, nil, err
	}

	if err := checkMessages(limits, int64(len(recs.Messages))); err != nil {
		return nil, nil, err
	}
	for i, dm := range recs.Messages {
		m := Message{Seq: uint64(i + 1), Role: dm.Role, Content: dm.Content, Timestamp: dm.Timestamp, Metadata: dm.Metadata}
		err := validMessage(&m)
		if err == nil {
			err = checkValue(limits, messageSize(m))
		}
		if err == nil {
			err = add(msgKey(ref.UID, m.Seq), &m)
		}
		if err != nil {
			return nil, nil, atPath(document.MessagePath(i), err)
		}
		h.Messages++
	}
	h.NextMsgSeq = uint64(h.Messages) + 1

	for i, dd := range recs.Discoveries {
		d := Discovery{Seq: uint64(i + 1), Title: dd.Title, Description: dd.Description, Relevance: dd.Relevance, Timestamp: dd.Timestamp}
		err := validDiscovery(&d)
		if err == nil {
			err = checkValue(limits, discoverySize(d))
		}
		if err == nil {
			err = add(discKey(ref.UID, d.Seq), &d)
		}
		if err != nil {
			return nil, nil, atPath(document.DiscoveryPath(i), err)
		}
		h.Discoveries++
	}
	h.NextDiscSeq = uint64(h.Discoveries) + 1

	if len(recs.Extra) > 0 {
		if err := add(extraKey(ref.UID), recs.Extra); err != nil {
			return nil, nil, fmt.Errorf("extra fields: %w", err)
		}
	}
	return h, out, nil
}

// importContext checks one imported context entry as SetContext checks a
// value: a valid key, valid JSON stored compact, within MaxValueBytes.
func importContext(c document.ContextRecord, limits Limits) (contextRecord, error) {
	if err := validKey(c.Key); err != nil {
		return contextRecord{}, err
	}
	v, err := compactJSON(c.Value)
	if err != nil {
		return contextRecord{}, err
	}
	if err := checkValue(limits, int64(len(v))); err != nil {
		return contextRecord{}, err
	}
	return contextRecord{Value: v, AddedAt: c.AddedAt, UpdatedAt: c.UpdatedAt, Type: pythonType(v)}, nil
}
