package pebblestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// The header of a session is stored at s/<uid>/meta as JSON.

func encodeHeader(h *Header) ([]byte, error) {
	b, err := store.EncodeJSON(h)
	if err != nil {
		return nil, fmt.Errorf("encode header: %w", err)
	}
	return b, nil
}

func readHeader(r pebble.Reader, uid string) (*Header, error) {
	raw, ok, err := getRaw(r, metaKey(uid))
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	if !ok {
		return nil, store.ErrSessionNotFound
	}
	var h Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	return &h, nil
}

// Create makes an empty session. It fails with ErrExists if the UID is taken.
func (s *Store) Create(ctx context.Context, ref store.SessionRef) (Header, error) {
	h, err := s.create(ctx, ref)
	if err != nil {
		return Header{}, fmt.Errorf("create session %s: %w", ref.UID, err)
	}
	return h, nil
}

func (s *Store) create(ctx context.Context, ref store.SessionRef) (Header, error) {
	if err := store.ValidRef(ref); err != nil {
		return Header{}, err
	}
	done, err := s.begin(ctx)
	if err != nil {
		return Header{}, err
	}
	defer done()
	b := s.db.NewBatch()
	defer b.Close()
	var h *Header
	err = s.write(ref.UID, b, func(e *entry) (*Header, error) {
		if _, err := s.cachedHeader(e, ref.UID); err == nil {
			return nil, store.ErrExists
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		h = store.NewHeader(ref, s.now())
		return h, nil
	})
	if err != nil {
		return Header{}, err
	}
	// *h is safe to read without the lock: writers copy the cached header
	// and never modify it in place.
	return *h, nil
}

// Get returns the session header with its counters.
func (s *Store) Get(ctx context.Context, uid string) (Header, error) {
	h, err := s.get(ctx, uid)
	if err != nil {
		return Header{}, fmt.Errorf("get session %s: %w", uid, err)
	}
	return h, nil
}

func (s *Store) get(ctx context.Context, uid string) (Header, error) {
	done, err := s.enter(ctx, uid)
	if err != nil {
		return Header{}, err
	}
	defer done()
	h, err := readHeader(s.db, uid)
	if err != nil {
		return Header{}, err
	}
	return *h, nil
}

// Stats returns the session's counters.
func (s *Store) Stats(ctx context.Context, uid string) (store.Stats, error) {
	h, err := s.get(ctx, uid)
	if err != nil {
		return store.Stats{}, fmt.Errorf("session stats %s: %w", uid, err)
	}
	return h.Stats, nil
}

// Erase deletes every key of the session with one synced range deletion, so
// no record survives, not even ones this code does not know about. Erasing a
// missing session succeeds: the finalizer that calls it may be retried after
// a crash between erase and removing the finalizer.
//
// The data becomes unreadable at once; the disk space is reclaimed when
// Pebble compacts the range.
func (s *Store) Erase(ctx context.Context, uid string) error {
	if err := s.erase(ctx, uid); err != nil {
		return fmt.Errorf("erase session %s: %w", uid, err)
	}
	return nil
}

func (s *Store) erase(ctx context.Context, uid string) error {
	done, err := s.enter(ctx, uid)
	if err != nil {
		return err
	}
	defer done()
	e := s.lockSession(uid)
	defer e.mu.Unlock()
	p := sessionPrefix(uid)
	if err := s.db.DeleteRange(p, prefixEnd(p), pebble.Sync); err != nil {
		e.hdr = nil
		return err
	}
	s.forget(uid, e)
	return nil
}

// Sessions calls fn with every session's header in UID order. It reads
// each session's header and then seeks past the session's records, so its
// cost grows with the number of sessions, not of records.
func (s *Store) Sessions(ctx context.Context, fn func(Header) error) error {
	done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte(sessionsRoot), UpperBound: prefixEnd([]byte(sessionsRoot))})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := it.Key()
		rest := k[len(sessionsRoot):]
		slash := bytes.IndexByte(rest, '/')
		if slash < 0 {
			return fmt.Errorf("malformed key %q", k)
		}
		uid := string(rest[:slash])
		h, err := readHeader(snap, uid)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("list sessions: %w", err)
		}
		if err == nil {
			if err := fn(*h); err != nil {
				return err
			}
		}
		valid = it.SeekGE(prefixEnd(sessionPrefix(uid)))
	}
	return it.Error()
}
