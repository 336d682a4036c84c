package store

import (
	"fmt"
	"time"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
)

// ImportOptions control Import.
type ImportOptions struct {
	// Replace lets Import overwrite an existing session (all of its data is
	// replaced in the same commit). Without it an existing UID is ErrExists.
	Replace bool
	// Limits are checked as on every other write: each value against
	// MaxValueBytes, the whole context against MaxContextBytes, the history
	// against MaxMessages.
	Limits Limits
}

// ImportPlan is a document turned into what a backend stores: the
// session's header and its records, every one checked.
type ImportPlan struct {
	Header *Header
	// Records are the context entries in key order, then the messages and
	// the discoveries in sequence order, then, if the document had unknown
	// top-level fields, one record of KindExtra.
	Records []Record
}

// Record is one encoded record of an import.
type Record struct {
	Kind Kind
	// Key is a context entry's key; Seq a message's or discovery's
	// sequence number.
	Key string
	Seq uint64
	// Value is the encoded record, as a single write stores it.
	Value []byte
	// Text is the record's searchable text (see DocText).
	Text string
}

// KindExtra is the Record of an imported document's unknown top-level
// fields, exported again with it. It is not searchable.
const KindExtra = kindExtra

// PlanImport checks a document as Import does, without touching any store:
// its format (document.Plan), then every record against the rules and
// limits of a single write; an *InvalidError or *LimitError names the
// record. Sequence numbers are assigned 1..n in document order; a record
// without a timestamp gets the document's created_at, a document without
// one now. ref.Project, when empty, is taken from the document.
func PlanImport(ref SessionRef, doc *document.Document, now time.Time, limits Limits) (*ImportPlan, error) {
	recs, err := document.Plan(doc, now)
	if err != nil {
		return nil, err
	}
	if ref.Project == "" {
		ref.Project = recs.Project
	}
	if err := ValidRef(ref); err != nil {
		return nil, err
	}
	h := NewHeader(ref, recs.Created)
	h.LastActivity = now
	p := &ImportPlan{Header: h}
	add := func(r Record, v any) error {
		enc, err := EncodeJSON(v)
		if err != nil {
			return invalidf("cannot encode: %v", err)
		}
		r.Value = enc
		p.Records = append(p.Records, r)
		h.StoredBytes += StoredSize(ref.UID, r.Kind, r.Key, enc)
		return nil
	}

	for _, c := range recs.Context {
		rec, err := importContext(c, limits)
		if err == nil {
			err = add(Record{Kind: KindContext, Key: c.Key, Text: ContextText(c.Key, rec.Value)}, rec)
		}
		if err != nil {
			return nil, atPath(document.ContextPath(c.Key), err)
		}
		h.ContextItems++
		h.ContextBytes += contextSize(c.Key, rec.Value)
	}
	if err := checkContext(limits, 0, h.ContextBytes); err != nil {
		return nil, err
	}

	if err := checkMessages(limits, int64(len(recs.Messages))); err != nil {
		return nil, err
	}
	for i, dm := range recs.Messages {
		m := Message{Seq: uint64(i + 1), Role: dm.Role, Content: dm.Content, Timestamp: dm.Timestamp, Metadata: dm.Metadata}
		err := validMessage(&m)
		if err == nil {
			err = checkValue(limits, messageSize(m))
		}
		if err == nil {
			err = add(Record{Kind: KindMessage, Seq: m.Seq, Text: m.Content}, &m)
		}
		if err != nil {
			return nil, atPath(document.MessagePath(i), err)
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
			err = add(Record{Kind: KindDiscovery, Seq: d.Seq, Text: d.Title + "\n" + d.Description}, &d)
		}
		if err != nil {
			return nil, atPath(document.DiscoveryPath(i), err)
		}
		h.Discoveries++
	}
	h.NextDiscSeq = uint64(h.Discoveries) + 1

	if len(recs.Extra) > 0 {
		if err := add(Record{Kind: KindExtra}, recs.Extra); err != nil {
			return nil, fmt.Errorf("extra fields: %w", err)
		}
	}
	return p, nil
}

// CheckImport reports whether Import would accept doc under limits: the
// document's format, the rules every record obeys and the limits, checked
// as Import checks them, without writing anything. A caller that creates
// something else first (import_session creates the McpSession) checks
// before, so a refused document creates nothing at all.
func CheckImport(doc *document.Document, limits Limits) error {
	_, err := PlanImport(SessionRef{UID: "check"}, doc, Timestamp(time.Now()), limits)
	return err
}

// importContext checks one imported context entry as SetContext checks a
// value: a valid key, valid JSON stored compact, within MaxValueBytes.
func importContext(c document.ContextRecord, limits Limits) (ContextRecord, error) {
	w, err := PrepareContext(c.Key, c.Value, limits)
	if err != nil {
		return ContextRecord{}, err
	}
	return ContextRecord{Value: w.Value, AddedAt: c.AddedAt, UpdatedAt: c.UpdatedAt, Type: pythonType(w.Value)}, nil
}
