package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// DefaultPageSize is the History page size when the caller passes limit <= 0.
const DefaultPageSize = 100

// Message is one conversation turn. Seq and Timestamp are assigned by the
// store on append.
type Message struct {
	Seq       uint64         `json:"seq"`
	Role      string         `json:"role"`
	Content   string         `json:"content"`
	Timestamp time.Time      `json:"timestamp"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// decodeMessage keeps metadata numbers as json.Number so integers beyond
// 2^53 read back exactly.
func decodeMessage(raw []byte) (Message, error) {
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

// AppendMessage adds a message at the end of the history and returns its
// sequence number. Sequence numbers start at 1 and are contiguous. The
// message's Seq and Timestamp are ignored and assigned here. A write past
// limits.MaxMessages, or content larger than limits.MaxValueBytes, returns
// a *LimitError and changes nothing.
func (s *Store) AppendMessage(ctx context.Context, uid string, m Message, limits Limits) (uint64, error) {
	seq, err := s.appendMessage(ctx, uid, m, limits)
	if err != nil {
		return 0, fmt.Errorf("append message %s: %w", uid, err)
	}
	return seq, nil
}

func (s *Store) appendMessage(ctx context.Context, uid string, m Message, limits Limits) (uint64, error) {
	if err := validMessage(&m); err != nil {
		return 0, err
	}
	// One message is one value: the same bound as a context value keeps a
	// single pasted log from growing a session past what a policy intends.
	if err := checkValue(limits, messageSize(m)); err != nil {
		return 0, err
	}
	var seq uint64
	err := s.mutate(ctx, uid, func(h *Header, b *pebble.Batch, now time.Time) error {
		if err := checkMessages(limits, h.Messages+1); err != nil {
			return err
		}
		m.Seq, m.Timestamp = h.NextMsgSeq, now
		if len(m.Metadata) == 0 {
			m.Metadata = nil
		}
		enc, err := encodeJSON(&m)
		if err != nil {
			return invalidf("metadata cannot be encoded as JSON: %v", err)
		}
		k := msgKey(uid, m.Seq)
		h.Messages++
		h.NextMsgSeq++
		h.StoredBytes += int64(len(k) + len(enc))
		seq = m.Seq
		return b.Set(k, enc, nil)
	})
	return seq, err
}

// History returns up to limit messages starting at sequence number fromSeq
// (0 means from the start), oldest first. next is the fromSeq of the
// following page, or 0 when there is none.
func (s *Store) History(ctx context.Context, uid string, fromSeq uint64, limit int) (msgs []Message, next uint64, err error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	if fromSeq == 0 {
		fromSeq = 1
	}
	err = s.scanMessages(ctx, uid, msgKey(uid, fromSeq), false, func(m Message) error {
		if len(msgs) == limit {
			next = m.Seq
			return errStop
		}
		msgs = append(msgs, m)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("history %s: %w", uid, err)
	}
	return msgs, next, nil
}

// Tail returns the last n messages, oldest first: what a resume briefing
// shows. It reads backwards from the end, so its cost does not depend on the
// length of the history.
func (s *Store) Tail(ctx context.Context, uid string, n int) ([]Message, error) {
	if n <= 0 {
		return nil, nil
	}
	var msgs []Message
	err := s.scanMessages(ctx, uid, msgPrefix(uid), true, func(m Message) error {
		msgs = append(msgs, m)
		if len(msgs) == n {
			return errStop
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tail %s: %w", uid, err)
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return msgs, nil
}

func (s *Store) scanMessages(ctx context.Context, uid string, lower []byte, reverse bool, fn func(Message) error) error {
	return s.read(ctx, uid, func(snap *pebble.Snapshot) error {
		return scan(ctx, snap, lower, prefixEnd(msgPrefix(uid)), reverse, func(_, v []byte) error {
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			return fn(m)
		})
	})
}
