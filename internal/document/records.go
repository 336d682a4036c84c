package document

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Records are a session's contents with times and relevances parsed: what
// Plan makes of a document for an import, and what Export turns back into
// a document. The store keeps the same records under its own keys.
type Records struct {
	// ID is the session's name: the document's id on Plan (an import
	// ignores it; the caller decides identity), the McpSession name on
	// Export.
	ID      string
	Created time.Time
	Project string
	// State is the lifecycle state on Export ("active", "suspended",
	// "terminated"; empty leaves it out). The store does not own lifecycle,
	// so its caller fills it. Plan leaves it empty.
	State string
	// Context is in key order.
	Context []ContextRecord
	// Messages and Discoveries are in document (sequence) order.
	Messages    []MessageRecord
	Discoveries []DiscoveryRecord
	// Extra holds the document's unknown top-level fields verbatim, so a
	// migration loses nothing.
	Extra map[string]json.RawMessage
}

// ContextRecord is one context entry.
type ContextRecord struct {
	Key   string
	Value json.RawMessage
	// AddedAt is when the key was first set, UpdatedAt when it was last.
	AddedAt, UpdatedAt time.Time
	// Type is the tutorial's Python type name of the value (dict, str, ...);
	// Plan leaves it empty, the store derives it from the value.
	Type string
}

// MessageRecord is one conversation message.
type MessageRecord struct {
	Role, Content string
	Timestamp     time.Time
	Metadata      map[string]any
}

// DiscoveryRecord is one discovery. Relevance 0 means the document left it
// unset (the store then records its default).
type DiscoveryRecord struct {
	Title, Description string
	Relevance          float64
	Timestamp          time.Time
}

// relevanceWords lets a document use words instead of the tutorial's
// numbers; they map onto the same (0, 1] scale.
var relevanceWords = map[string]float64{"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}

// Plan validates the format of a document and returns its records, ready
// for an import: every timestamp and relevance parsed, context in key
// order. A missing created_at is now; a record without a timestamp gets
// created_at (an entry without updated_at its added_at). Plan checks the
// format only; the rules every record obeys however it arrives (roles,
// key names, sizes, limits) are the store's, which checks them when it
// writes the records.
func Plan(doc *Document, now time.Time) (*Records, error) {
	if doc == nil {
		return nil, &Error{Reason: "no document"}
	}
	r := &Records{ID: doc.ID, Project: doc.Project, Created: now}
	if doc.CreatedAt != "" {
		t, err := parseTime(doc.CreatedAt)
		if err != nil {
			return nil, invalidf("created_at", "%v", err)
		}
		r.Created = t
	}
	ts := func(path, s string, def time.Time) (time.Time, error) {
		if s == "" {
			return def, nil
		}
		t, err := parseTime(s)
		if err != nil {
			return time.Time{}, invalidf(path, "%v", err)
		}
		return t, nil
	}

	keys := make([]string, 0, len(doc.Context))
	for k := range doc.Context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		c := doc.Context[key]
		path := ContextPath(key)
		added, err := ts(path+".added_at", c.AddedAt, r.Created)
		if err != nil {
			return nil, err
		}
		updated, err := ts(path+".updated_at", c.UpdatedAt, added)
		if err != nil {
			return nil, err
		}
		r.Context = append(r.Context, ContextRecord{Key: key, Value: c.Value, AddedAt: added, UpdatedAt: updated})
	}
	for i, m := range doc.ConversationHistory {
		at, err := ts(MessagePath(i)+".timestamp", m.Timestamp, r.Created)
		if err != nil {
			return nil, err
		}
		md := m.Metadata
		if len(md) == 0 {
			md = nil
		}
		r.Messages = append(r.Messages, MessageRecord{Role: m.Role, Content: m.Content, Timestamp: at, Metadata: md})
	}
	for i, d := range doc.Discoveries {
		path := DiscoveryPath(i)
		rel, err := parseRelevance(path+".relevance", d.Relevance)
		if err != nil {
			return nil, err
		}
		at, err := ts(path+".timestamp", d.Timestamp, r.Created)
		if err != nil {
			return nil, err
		}
		r.Discoveries = append(r.Discoveries, DiscoveryRecord{Title: d.Title, Description: d.Description, Relevance: rel, Timestamp: at})
	}
	for k, v := range doc.Extra {
		if knownFields[k] {
			continue
		}
		if r.Extra == nil {
			r.Extra = map[string]json.RawMessage{}
		}
		r.Extra[k] = v
	}
	return r, nil
}

// parseRelevance reads a document's relevance: absent or null is unset
// (0), a number is taken as it is (the store holds it to (0, 1]), and the
// words low, medium, high and critical map onto that scale.
func parseRelevance(path string, raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var word string
	if json.Unmarshal(raw, &word) == nil {
		if r, ok := relevanceWords[strings.ToLower(word)]; ok {
			return r, nil
		}
		return 0, invalidf(path, "relevance %q is not a number in (0, 1] or one of low, medium, high, critical", word)
	}
	r, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, invalidf(path, "relevance %s is not a number in (0, 1] or one of low, medium, high, critical", raw)
	}
	return r, nil
}

// Export turns a session's records into its document. Empty collections
// are written as {} and [] as the tutorial does; times in isoformat() with
// a UTC offset.
func Export(r Records) *Document {
	doc := &Document{
		ID: r.ID, CreatedAt: formatTime(r.Created), State: r.State, Project: r.Project,
		Context:             make(map[string]Context, len(r.Context)),
		Discoveries:         make(Discoveries, 0, len(r.Discoveries)),
		ConversationHistory: make([]Message, 0, len(r.Messages)),
		Extra:               r.Extra,
	}
	for _, c := range r.Context {
		doc.Context[c.Key] = Context{Value: c.Value, AddedAt: formatTime(c.AddedAt), UpdatedAt: formatTime(c.UpdatedAt), Type: c.Type}
	}
	for _, m := range r.Messages {
		doc.ConversationHistory = append(doc.ConversationHistory, Message{
			Role: m.Role, Content: m.Content, Timestamp: formatTime(m.Timestamp), Metadata: m.Metadata,
		})
	}
	for _, d := range r.Discoveries {
		doc.Discoveries = append(doc.Discoveries, Discovery{
			Title: d.Title, Description: d.Description,
			Relevance: json.RawMessage(strconv.FormatFloat(d.Relevance, 'g', -1, 64)),
			Timestamp: formatTime(d.Timestamp),
		})
	}
	return doc
}
