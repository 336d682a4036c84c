package document

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// Document is a session in the JSON file format of the tutorial the project
// grew from, so sessions move between file-based tools and the store:
//
//	{"id", "created_at", "state", "project",
//	 "context": {key: {"value": any, "added_at": ts}},
//	 "discoveries": [{"title", "description", "relevance", "timestamp"}],
//	 "conversation_history": [{"role", "content", "timestamp", "metadata"}]}
//
// Timestamps are strings because imported documents carry whatever their
// writer produced. Import accepts RFC 3339, Python's isoformat() with or
// without an offset and str(datetime) (a space instead of "T"); a time
// without an offset is taken as UTC. Export writes isoformat() with a UTC
// offset, which datetime.fromisoformat reads back.
//
// Parsing is lenient where the tutorial itself is inconsistent: a context
// entry may be a bare value instead of a {"value", "added_at"} wrapper,
// discoveries may be the tutorial Session class's map of title to
// {"discovery", "timestamp", "relevance"}, and relevance may be a number or
// one of the words low, medium, high, critical. Unknown top-level fields
// (description, metadata, environment, last_accessed, updated_at, ...) are
// kept in Extra and written back on export, so a migration loses nothing.
type Document struct {
	// ID is the session's name in the source tool. Export sets the
	// McpSession name (or the UID when there is none); Import ignores it,
	// because the caller's SessionRef decides identity.
	ID        string
	CreatedAt string
	// State is the lifecycle state ("active", "suspended", "terminated").
	// The store does not own lifecycle (the McpSession does), so Export
	// leaves it empty for the caller to fill and Import ignores it.
	State               string
	Project             string
	Context             map[string]Context
	Discoveries         Discoveries
	ConversationHistory []Message
	// Extra holds unknown top-level fields verbatim.
	Extra map[string]json.RawMessage
}

// Context is one context entry of a Document.
type Context struct {
	Value     json.RawMessage `json:"value"`
	AddedAt   string          `json:"added_at,omitempty"`
	UpdatedAt string          `json:"updated_at,omitempty"`
	Type      string          `json:"type,omitempty"`
}

// Discovery is one discovery of a Document. Relevance is kept raw
// because documents use numbers or words.
type Discovery struct {
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Relevance   json.RawMessage `json:"relevance,omitempty"`
	Timestamp   string          `json:"timestamp,omitempty"`
}

// Discoveries is a Document's discoveries in order; it also decodes the
// map form (see Document).
type Discoveries []Discovery

// Message is one conversation message of a Document.
type Message struct {
	Role      string         `json:"role"`
	Content   string         `json:"content"`
	Timestamp string         `json:"timestamp,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// documentWire fixes the field order of the encoded document.
type documentWire struct {
	ID                  string             `json:"id"`
	CreatedAt           string             `json:"created_at"`
	State               string             `json:"state,omitempty"`
	Project             string             `json:"project"`
	Context             map[string]Context `json:"context"`
	Discoveries         []Discovery        `json:"discoveries"`
	ConversationHistory []Message          `json:"conversation_history"`
}

var knownFields = map[string]bool{
	"id": true, "created_at": true, "state": true, "project": true,
	"context": true, "discoveries": true, "conversation_history": true,
}

// MarshalJSON writes the known fields in the tutorial's order, then Extra in
// key order. Empty collections are written as {} and [] as the tutorial does.
func (d Document) MarshalJSON() ([]byte, error) {
	w := documentWire{
		ID: d.ID, CreatedAt: d.CreatedAt, State: d.State, Project: d.Project,
		Context: d.Context, Discoveries: d.Discoveries, ConversationHistory: d.ConversationHistory,
	}
	if w.Context == nil {
		w.Context = map[string]Context{}
	}
	if w.Discoveries == nil {
		w.Discoveries = []Discovery{}
	}
	if w.ConversationHistory == nil {
		w.ConversationHistory = []Message{}
	}
	out, err := Marshal(w)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(d.Extra))
	for k := range d.Extra {
		if !knownFields[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	sort.Strings(keys)
	out = out[:len(out)-1] // drop the closing brace
	for _, k := range keys {
		kb, _ := Marshal(k)
		vb, err := Marshal(d.Extra[k])
		if err != nil {
			return nil, fmt.Errorf("extra field %q: %w", k, err)
		}
		out = append(out, ',')
		out = append(out, kb...)
		out = append(out, ':')
		out = append(out, vb...)
	}
	return append(out, '}'), nil
}

// UnmarshalJSON decodes the known fields strictly by type and keeps the rest
// in Extra.
func (d *Document) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw == nil {
		return errors.New("document is null, not an object")
	}
	*d = Document{}
	fields := map[string]any{
		"id": &d.ID, "created_at": &d.CreatedAt, "state": &d.State, "project": &d.Project,
		"context": &d.Context, "discoveries": &d.Discoveries, "conversation_history": &d.ConversationHistory,
	}
	for k, v := range raw {
		dst, known := fields[k]
		if !known {
			if d.Extra == nil {
				d.Extra = map[string]json.RawMessage{}
			}
			d.Extra[k] = v
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// UnmarshalJSON accepts the {"value", "added_at", ...} wrapper or, as the
// tutorial's simplest add_context writes, the bare value.
func (c *Context) UnmarshalJSON(data []byte) error {
	*c = Context{}
	var obj map[string]json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		if err := json.Unmarshal(data, &obj); err != nil {
			return err
		}
	}
	v, wrapped := obj["value"]
	if !wrapped {
		c.Value = append(json.RawMessage(nil), data...)
		return nil
	}
	c.Value = v
	for name, dst := range map[string]*string{"added_at": &c.AddedAt, "updated_at": &c.UpdatedAt} {
		if raw, ok := obj[name]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	// "type" is derived from the value on import; a non-string is ignored.
	_ = json.Unmarshal(obj["type"], &c.Type)
	return nil
}

// UnmarshalJSON accepts a list of discoveries or the tutorial Session
// class's map {title: {"discovery": {...} or text, "timestamp", "relevance"}},
// keeping the map's document order.
func (ds *Discoveries) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if !bytes.HasPrefix(data, []byte("{")) {
		var list []Discovery
		if err := json.Unmarshal(data, &list); err != nil {
			return err
		}
		*ds = list
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // '{'
		return err
	}
	var out Discoveries
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		title, _ := tok.(string)
		var e struct {
			Discovery json.RawMessage `json:"discovery"`
			Relevance json.RawMessage `json:"relevance"`
			Timestamp string          `json:"timestamp"`
		}
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("%q: %w", title, err)
		}
		out = append(out, Discovery{
			Title: title, Description: discoveryText(e.Discovery),
			Relevance: e.Relevance, Timestamp: e.Timestamp,
		})
	}
	*ds = out
	return nil
}

// discoveryText turns the map form's "discovery" payload into a
// description: its "description" member, the string itself, or its JSON.
func discoveryText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Description *string `json:"description"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Description != nil {
		return *obj.Description
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return ""
	}
	return buf.String()
}

// UnmarshalJSON decodes metadata numbers as json.Number so large integers
// survive the import.
func (m *Message) UnmarshalJSON(data []byte) error {
	type plain Message
	var p plain
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*m = Message(p)
	return nil
}
