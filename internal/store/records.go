package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// This file holds the records a session is made of, their encoded form
// (the same in every backend, so exports and StoredBytes agree), and what
// each write does to a session's header. A backend calls these under its
// own serialisation of the session's writers and commits the encoded
// record and the new header together.

// ContextEntry is one named piece of session context, as in the tutorial's
// context[key] = {"value", "added_at", "type"}.
type ContextEntry struct {
	Key string `json:"key"`
	// Value is any JSON value, stored compact.
	Value json.RawMessage `json:"value"`
	// AddedAt is when the key was first set; it survives updates.
	AddedAt time.Time `json:"added_at"`
	// UpdatedAt is when the value was last set.
	UpdatedAt time.Time `json:"updated_at"`
	// Type is the Python type name the tutorial records (dict, list, str,
	// int, float, bool, NoneType).
	Type string `json:"type"`
}

// ContextRecord is the stored form of a context entry; the key is stored
// beside it.
type ContextRecord struct {
	Value     json.RawMessage `json:"value"`
	AddedAt   time.Time       `json:"added_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Type      string          `json:"type"`
}

// Entry is the record as the entry of key.
func (r ContextRecord) Entry(key string) ContextEntry {
	return ContextEntry{Key: key, Value: r.Value, AddedAt: r.AddedAt, UpdatedAt: r.UpdatedAt, Type: r.Type}
}

// contextSize is what an entry counts against MaxContextBytes.
func contextSize(key string, value []byte) int64 { return int64(len(key) + len(value)) }

// DecodeContext decodes a stored context record.
func DecodeContext(raw []byte) (ContextRecord, error) {
	var r ContextRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("decode context entry: %w", err)
	}
	return r, nil
}

// DefaultPageSize is the History page size when the caller passes limit <= 0.
const DefaultPageSize = 100

// HistoryPage is the page History reads for the caller's fromSeq and limit:
// from sequence number 1 when fromSeq is 0, DefaultPageSize messages when
// limit is not positive.
func HistoryPage(fromSeq uint64, limit int) (uint64, int) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	return max(fromSeq, 1), limit
}

// Message is one conversation turn. Seq and Timestamp are assigned by the
// store on append.
type Message struct {
	Seq       uint64         `json:"seq"`
	Role      string         `json:"role"`
	Content   string         `json:"content"`
	Timestamp time.Time      `json:"timestamp"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// DecodeMessage decodes a stored message, keeping metadata numbers as
// json.Number so integers beyond 2^53 read back exactly.
func DecodeMessage(raw []byte) (Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("decode message: %w", err)
	}
	return m, nil
}

// messageSize is what a message counts against MaxValueBytes: its content.
func messageSize(m Message) int64 { return int64(len(m.Content)) }

func validMessage(m *Message) error {
	if err := validRole(m.Role); err != nil {
		return err
	}
	return validText("content", m.Content)
}

// Discovery is an important finding, as in the tutorial's add_discovery.
// Seq and Timestamp are assigned by the store on append.
type Discovery struct {
	Seq         uint64 `json:"seq"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Relevance is on the tutorial's scale, (0, 1]; zero means unset and is
	// stored as DefaultRelevance.
	Relevance float64   `json:"relevance"`
	Timestamp time.Time `json:"timestamp"`
}

// ListOptions shape ListDiscoveries.
type ListOptions struct {
	// Limit caps the number returned; 0 returns all.
	Limit int
	// RecentFirst returns the newest first (what a resume briefing wants);
	// otherwise oldest first.
	RecentFirst bool
}

// discoverySize is what a discovery counts against MaxValueBytes: its title
// and description together.
func discoverySize(d Discovery) int64 { return int64(len(d.Title) + len(d.Description)) }

func validDiscovery(d *Discovery) error {
	if d.Title == "" {
		return invalidf("discovery title is empty")
	}
	if err := validText("title", d.Title); err != nil {
		return err
	}
	if err := validText("description", d.Description); err != nil {
		return err
	}
	r, err := normalizeRelevance(d.Relevance)
	if err != nil {
		return err
	}
	d.Relevance = r
	return nil
}

// DecodeDiscovery decodes a stored discovery.
func DecodeDiscovery(raw []byte) (Discovery, error) {
	var d Discovery
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, fmt.Errorf("decode discovery: %w", err)
	}
	return d, nil
}

// ContextWrite is a SetContext checked before it takes the session's
// writer lock: a valid key, and the value valid JSON in compact form within
// MaxValueBytes.
type ContextWrite struct {
	Key    string
	Value  json.RawMessage
	limits Limits
}

// PrepareContext checks a SetContext's input.
func PrepareContext(key string, value json.RawMessage, limits Limits) (ContextWrite, error) {
	if err := ValidKey(key); err != nil {
		return ContextWrite{}, err
	}
	v, err := compactJSON(value)
	if err != nil {
		return ContextWrite{}, err
	}
	if err := checkValue(limits, int64(len(v))); err != nil {
		return ContextWrite{}, err
	}
	return ContextWrite{Key: key, Value: v, limits: limits}, nil
}

// Apply is the write under the session's lock: given the header to update
// and the entry's stored record (nil when the key is new), it checks
// MaxContextBytes, updates the header's counters and returns the encoded
// record to store and the entry as the caller sees it.
func (w ContextWrite) Apply(h *Header, uid string, old []byte, now time.Time) ([]byte, ContextEntry, error) {
	rec := ContextRecord{Value: w.Value, AddedAt: now, UpdatedAt: now, Type: pythonType(w.Value)}
	var oldSize, oldStored int64
	if old != nil {
		o, err := DecodeContext(old)
		if err != nil {
			return nil, ContextEntry{}, err
		}
		rec.AddedAt = o.AddedAt
		oldSize = contextSize(w.Key, o.Value)
		oldStored = StoredSize(uid, KindContext, w.Key, old)
		h.ContextItems--
	}
	newSize := contextSize(w.Key, w.Value)
	if err := checkContext(w.limits, h.ContextBytes, h.ContextBytes-oldSize+newSize); err != nil {
		return nil, ContextEntry{}, err
	}
	enc, err := EncodeJSON(rec)
	if err != nil {
		return nil, ContextEntry{}, err
	}
	h.ContextItems++
	h.ContextBytes += newSize - oldSize
	h.StoredBytes += StoredSize(uid, KindContext, w.Key, enc) - oldStored
	h.LastActivity = now
	return enc, rec.Entry(w.Key), nil
}

// ApplyDeleteContext is DeleteContext under the session's lock: old is the
// entry's stored record (nil when there is none, which is ErrNotFound).
func ApplyDeleteContext(h *Header, uid, key string, old []byte, now time.Time) error {
	if old == nil {
		return fmt.Errorf("context key %w", ErrNotFound)
	}
	o, err := DecodeContext(old)
	if err != nil {
		return err
	}
	h.ContextItems--
	h.ContextBytes -= contextSize(key, o.Value)
	h.StoredBytes -= StoredSize(uid, KindContext, key, old)
	h.LastActivity = now
	return nil
}

// MessageWrite is an AppendMessage checked before it takes the session's
// writer lock: a valid role, valid UTF-8 content within MaxValueBytes.
type MessageWrite struct {
	m      Message
	limits Limits
}

// PrepareMessage checks an AppendMessage's input. The message's Seq and
// Timestamp are ignored; Apply assigns them.
func PrepareMessage(m Message, limits Limits) (MessageWrite, error) {
	if err := validMessage(&m); err != nil {
		return MessageWrite{}, err
	}
	// One message is one value: the same bound as a context value keeps a
	// single pasted log from growing a session past what a policy intends.
	if err := checkValue(limits, messageSize(m)); err != nil {
		return MessageWrite{}, err
	}
	if len(m.Metadata) == 0 {
		m.Metadata = nil
	}
	return MessageWrite{m: m, limits: limits}, nil
}

// Content is the message's text, what search indexes.
func (w MessageWrite) Content() string { return w.m.Content }

// Apply is the append under the session's lock: it checks MaxMessages,
// assigns the next sequence number and the timestamp now, updates the
// header and returns the encoded record and its sequence number.
func (w MessageWrite) Apply(h *Header, uid string, now time.Time) ([]byte, uint64, error) {
	if err := checkMessages(w.limits, h.Messages+1); err != nil {
		return nil, 0, err
	}
	m := w.m
	m.Seq, m.Timestamp = h.NextMsgSeq, now
	enc, err := EncodeJSON(&m)
	if err != nil {
		return nil, 0, invalidf("metadata cannot be encoded as JSON: %v", err)
	}
	h.Messages++
	h.NextMsgSeq++
	h.StoredBytes += StoredSize(uid, KindMessage, "", enc)
	h.LastActivity = now
	return enc, m.Seq, nil
}

// Encode returns the encoded record with sequence number 0 and timestamp
// now, split where the sequence number goes: the record of sequence n is
// head + decimal(n) + tail. A backend that assigns the number inside the
// database (one statement per append) builds the record there.
func (w MessageWrite) Encode(now time.Time) (head, tail []byte, err error) {
	m := w.m
	m.Seq, m.Timestamp = 0, now
	enc, err := EncodeJSON(&m)
	if err != nil {
		return nil, nil, invalidf("metadata cannot be encoded as JSON: %v", err)
	}
	return splitSeq(enc)
}

// CheckMessages refuses a history of next messages when that is over
// MaxMessages: the *LimitError an append returns.
func (w MessageWrite) CheckMessages(next int64) error { return checkMessages(w.limits, next) }

// seqHead is how every encoded message and discovery begins: the sequence
// number is the first field.
const seqHead = `{"seq":`

// splitSeq cuts a record encoded with sequence number 0 around that number.
func splitSeq(enc []byte) (head, tail []byte, err error) {
	if !bytes.HasPrefix(enc, []byte(seqHead+"0,")) {
		return nil, nil, fmt.Errorf("encoded record %.20q does not start with its sequence number", enc)
	}
	return enc[:len(seqHead)], enc[len(seqHead)+1:], nil
}

// DiscoveryWrite is an AppendDiscovery checked before it takes the
// session's writer lock.
type DiscoveryWrite struct{ d Discovery }

// PrepareDiscovery checks an AppendDiscovery's input: a title, valid UTF-8,
// a relevance in (0, 1] (0: DefaultRelevance), title and description
// together within MaxValueBytes.
func PrepareDiscovery(d Discovery, limits Limits) (DiscoveryWrite, error) {
	if err := validDiscovery(&d); err != nil {
		return DiscoveryWrite{}, err
	}
	if err := checkValue(limits, discoverySize(d)); err != nil {
		return DiscoveryWrite{}, err
	}
	return DiscoveryWrite{d: d}, nil
}

// Text is the discovery's searchable text.
func (w DiscoveryWrite) Text() string { return w.d.Title + "\n" + w.d.Description }

// Apply is the append under the session's lock: the next sequence number,
// the timestamp now, the header updated, the encoded record.
func (w DiscoveryWrite) Apply(h *Header, uid string, now time.Time) ([]byte, uint64, error) {
	d := w.d
	d.Seq, d.Timestamp = h.NextDiscSeq, now
	enc, err := EncodeJSON(&d)
	if err != nil {
		return nil, 0, err
	}
	h.Discoveries++
	h.NextDiscSeq++
	h.StoredBytes += StoredSize(uid, KindDiscovery, "", enc)
	h.LastActivity = now
	return enc, d.Seq, nil
}

// StoredSize is what one record counts in Stats.StoredBytes: the length of
// its encoded value plus that of the key it has in the Pebble store
// ("s/<uid>/ctx/<key>", "s/<uid>/msg/<20 digits>", "s/<uid>/disc/<20
// digits>", "s/<uid>/extra"). Every backend counts the same, so a session
// shows the same size whichever store holds it.
func StoredSize(uid string, kind Kind, key string, value []byte) int64 {
	n := len("s/") + len(uid) + len("/") + len(value)
	switch kind {
	case KindContext:
		n += len("ctx/") + len(key)
	case KindMessage:
		n += len("msg/") + SeqWidth
	case KindDiscovery:
		n += len("disc/") + SeqWidth
	case kindExtra:
		n += len("extra")
	}
	return int64(n)
}

// SeqWidth is the width of a sequence number in the Pebble store's keys
// (that of the largest uint64), so byte order is numeric order.
const SeqWidth = 20

// kindExtra is the record of an imported document's unknown top-level
// fields, for StoredSize.
const kindExtra Kind = "extra"

// ContextScan is how a backend reads the context entries of session uid
// whose key starts with prefix, in key (byte) order, at one point in time:
// fn gets each key and, when values is set, its stored record. It fails
// with ErrNotFound for a missing session.
type ContextScan func(ctx context.Context, uid, prefix string, values bool, fn func(key string, rec []byte) error) error

// ListContextWith is ListContext on a backend's scan.
func ListContextWith(ctx context.Context, scan ContextScan, uid, prefix string) ([]ContextEntry, error) {
	var out []ContextEntry
	err := scan(ctx, uid, prefix, true, func(key string, rec []byte) error {
		r, err := DecodeContext(rec)
		if err != nil {
			return err
		}
		out = append(out, r.Entry(key))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list context %s: %w", uid, err)
	}
	return out, nil
}

// ContextKeysWith is ContextKeys on a backend's scan: the keys alone, no
// value decoded.
func ContextKeysWith(ctx context.Context, scan ContextScan, uid, prefix string) ([]string, error) {
	var out []string
	err := scan(ctx, uid, prefix, false, func(key string, _ []byte) error {
		out = append(out, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list context keys %s: %w", uid, err)
	}
	return out, nil
}
