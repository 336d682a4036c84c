package pebblestore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// AppendMessage adds a message at the end of the history and returns its
// sequence number. Sequence numbers start at 1 and are contiguous. The
// message's Seq and Timestamp are ignored and assigned here. A write past
// limits.MaxMessages, or content larger than limits.MaxValueBytes, returns
// a *LimitError and changes nothing.
func (s *Store) AppendMessage(ctx context.Context, uid string, m store.Message, limits Limits) (uint64, error) {
	seq, err := s.appendMessage(ctx, uid, m, limits)
	if err != nil {
		return 0, fmt.Errorf("append message %s: %w", uid, err)
	}
	return seq, nil
}

func (s *Store) appendMessage(ctx context.Context, uid string, m store.Message, limits Limits) (uint64, error) {
	w, err := store.PrepareMessage(m, limits)
	if err != nil {
		return 0, err
	}
	var seq uint64
	err = s.mutate(ctx, uid, func(h *Header, b *pebble.Batch, now time.Time) error {
		enc, n, err := w.Apply(h, uid, now)
		if err != nil {
			return err
		}
		seq = n
		return b.Set(msgKey(uid, n), enc, nil)
	})
	return seq, err
}

// History returns up to limit messages starting at sequence number fromSeq
// (0 means from the start), oldest first. next is the fromSeq of the
// following page, or 0 when there is none.
func (s *Store) History(ctx context.Context, uid string, fromSeq uint64, limit int) (msgs []store.Message, next uint64, err error) {
	fromSeq, limit = store.HistoryPage(fromSeq, limit)
	err = s.scanMessages(ctx, uid, msgKey(uid, fromSeq), false, func(m store.Message) error {
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
func (s *Store) Tail(ctx context.Context, uid string, n int) ([]store.Message, error) {
	if n <= 0 {
		return nil, nil
	}
	var msgs []store.Message
	err := s.scanMessages(ctx, uid, msgPrefix(uid), true, func(m store.Message) error {
		msgs = append(msgs, m)
		if len(msgs) == n {
			return errStop
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tail %s: %w", uid, err)
	}
	slices.Reverse(msgs) // read newest first
	return msgs, nil
}

func (s *Store) scanMessages(ctx context.Context, uid string, lower []byte, reverse bool, fn func(store.Message) error) error {
	return s.read(ctx, uid, func(snap *pebble.Snapshot) error {
		return scan(ctx, snap, lower, prefixEnd(msgPrefix(uid)), reverse, func(_, v []byte) error {
			m, err := store.DecodeMessage(v)
			if err != nil {
				return err
			}
			return fn(m)
		})
	})
}
