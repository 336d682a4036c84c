package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ImportOptions control Import.
type ImportOptions struct {
	// Replace lets Import overwrite an existing session (all of its data is
	// replaced in the same batch). Without it an existing UID is ErrExists.
	Replace bool
	// Limits are checked against the imported session as a whole.
	Limits Limits
}

// kv is one record to write.
type kv struct{ key, value []byte }

// Import writes doc as session ref in one synced batch: either the whole
// document is stored or, on any error, nothing changes. Sequence numbers
// are assigned 1..n in document order; missing timestamps default to the
// document's created_at (or now when that is missing too). ref.Project, when
// empty, is taken from the document.
func (s *Store) Import(ctx context.Context, ref SessionRef, doc *Document, opts ImportOptions) (Header, error) {
	h, err := s.importDoc(ctx, ref, doc, opts)
	if err != nil {
		return Header{}, fmt.Errorf("import session %s: %w", ref.UID, err)
	}
	return h, nil
}

func (s *Store) importDoc(ctx context.Context, ref SessionRef, doc *Document, opts ImportOptions) (Header, error) {
	if doc == nil {
		return Header{}, invalidf("document is nil")
	}
	h, recs, err := planImport(ref, doc, s.now(), opts.Limits)
	if err != nil {
		return Header{}, err
	}
	done, err := s.begin(ctx)
	if err != nil {
		return Header{}, err
	}
	defer done()
	size := 0
	for _, r := range recs {
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
		for _, r := range recs {
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

// planImport validates doc and turns it into records and a header without
// touching the store, so an invalid document cannot leave anything behind.
func planImport(ref SessionRef, doc *Document, now time.Time, limits Limits) (*Header, []kv, error) {
	if ref.Project == "" {
		ref.Project = doc.Project
	}
	if err := validRef(ref); err != nil {
		return nil, nil, err
	}
	created := now
	if doc.CreatedAt != "" {
		t, err := parseTime(doc.CreatedAt)
		if err != nil {
			return nil, nil, fmt.Errorf("created_at: %w", err)
		}
		created = t
	}
	h := newHeader(ref, created)
	h.LastActivity = now
	var recs []kv
	add := func(k []byte, v any) error {
		enc, err := encodeJSON(v)
		if err != nil {
			return invalidf("cannot encode: %v", err)
		}
		recs = append(recs, kv{k, enc})
		h.StoredBytes += int64(len(k) + len(enc))
		return nil
	}
	ts := func(s string, def time.Time) (time.Time, error) {
		if s == "" {
			return def, nil
		}
		return parseTime(s)
	}

	keys := make([]string, 0, len(doc.Context))
	for k := range doc.Context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		c := doc.Context[key]
		rec, err := planContext(key, c, created, limits, ts)
		if err != nil {
			return nil, nil, fmt.Errorf("context[%q]: %w", key, err)
		}
		if err := add(ctxKey(ref.UID, key), rec); err != nil {
			return nil, nil, fmt.Errorf("context[%q]: %w", key, err)
		}
		h.ContextItems++
		h.ContextBytes += contextSize(key, rec.Value)
	}
	if err := limits.checkContext(0, h.ContextBytes); err != nil {
		return nil, nil, err
	}

	if err := limits.checkMessages(int64(len(doc.ConversationHistory))); err != nil {
		return nil, nil, err
	}
	for i, dm := range doc.ConversationHistory {
		m := Message{Seq: uint64(i + 1), Role: dm.Role, Content: dm.Content, Metadata: dm.Metadata}
		if len(m.Metadata) == 0 {
			m.Metadata = nil
		}
		err := validMessage(&m)
		if err == nil {
			m.Timestamp, err = ts(dm.Timestamp, created)
		}
		if err == nil {
			err = add(msgKey(ref.UID, m.Seq), &m)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("conversation_history[%d]: %w", i, err)
		}
		h.Messages++
	}
	h.NextMsgSeq = uint64(h.Messages) + 1

	for i, dd := range doc.Discoveries {
		d := Discovery{Seq: uint64(i + 1), Title: dd.Title, Description: dd.Description}
		r, err := parseRelevance(dd.Relevance)
		if err == nil {
			d.Relevance = r
			err = validDiscovery(&d)
		}
		if err == nil {
			d.Timestamp, err = ts(dd.Timestamp, created)
		}
		if err == nil {
			err = add(discKey(ref.UID, d.Seq), &d)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("discoveries[%d]: %w", i, err)
		}
		h.Discoveries++
	}
	h.NextDiscSeq = uint64(h.Discoveries) + 1

	extra := map[string]json.RawMessage{}
	for k, v := range doc.Extra {
		if !knownFields[k] {
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		if err := add(extraKey(ref.UID), extra); err != nil {
			return nil, nil, fmt.Errorf("extra fields: %w", err)
		}
	}
	return h, recs, nil
}

func planContext(key string, c DocContext, created time.Time, limits Limits, ts func(string, time.Time) (time.Time, error)) (contextRecord, error) {
	if err := validKey(key); err != nil {
		return contextRecord{}, err
	}
	v, err := compactJSON(c.Value)
	if err != nil {
		return contextRecord{}, err
	}
	if err := limits.checkValue(int64(len(v))); err != nil {
		return contextRecord{}, err
	}
	added, err := ts(c.AddedAt, created)
	if err != nil {
		return contextRecord{}, fmt.Errorf("added_at: %w", err)
	}
	updated, err := ts(c.UpdatedAt, added)
	if err != nil {
		return contextRecord{}, fmt.Errorf("updated_at: %w", err)
	}
	return contextRecord{Value: v, AddedAt: added, UpdatedAt: updated, Type: pythonType(v)}, nil
}

// parseRelevance reads a document's relevance: absent or null is the
// default, a number is on the tutorial's (0, 1] scale, and the words low,
// medium, high and critical map onto it.
func parseRelevance(raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return DefaultRelevance, nil
	}
	var word string
	if json.Unmarshal(raw, &word) == nil {
		if r, ok := relevanceLabels[strings.ToLower(word)]; ok {
			return r, nil
		}
		return 0, invalidf("relevance %q is not a number in (0, 1] or one of low, medium, high, critical", word)
	}
	r, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, invalidf("relevance %s is not a number in (0, 1] or one of low, medium, high, critical", raw)
	}
	return normalizeRelevance(r)
}
