package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// SessionRef identifies a session: UID keys the data (so a deleted and
// recreated McpSession of the same name never sees old data); namespace,
// name and project are kept for export and diagnostics.
type SessionRef struct {
	UID       string
	Namespace string
	Name      string
	Project   string
}

// Stats are a session's counters, kept in its header and updated in the same
// batch as every write, so they are exact without scanning.
type Stats struct {
	// ContextItems is the number of context entries.
	ContextItems int64 `json:"contextItems"`
	// ContextBytes is the sum of len(key)+len(value) over context entries;
	// MaxContextBytes is checked against it.
	ContextBytes int64 `json:"contextBytes"`
	// Messages is the number of messages in the history.
	Messages int64 `json:"messages"`
	// Discoveries is the number of discoveries.
	Discoveries int64 `json:"discoveries"`
	// StoredBytes is the encoded size (keys and values) of all records of the
	// session except the header itself: what the session costs on disk
	// before compression.
	StoredBytes int64 `json:"storedBytes"`
	// NextMsgSeq is the sequence number the next message gets (first is 1).
	NextMsgSeq uint64 `json:"nextMsgSeq"`
	// NextDiscSeq is the sequence number the next discovery gets.
	NextDiscSeq uint64 `json:"nextDiscSeq"`
	// LastActivity is the time of the last write.
	LastActivity time.Time `json:"lastActivity"`
}

// Header is the session record stored at s/<uid>/meta.
type Header struct {
	UID       string    `json:"uid"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Project   string    `json:"project"`
	Created   time.Time `json:"created"`
	Stats
}

// Ref returns the identity part of the header.
func (h Header) Ref() SessionRef {
	return SessionRef{UID: h.UID, Namespace: h.Namespace, Name: h.Name, Project: h.Project}
}

var errSessionNotFound = fmt.Errorf("session %w", ErrNotFound)

func encodeHeader(h *Header) ([]byte, error) {
	b, err := encodeJSON(h)
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
		return nil, errSessionNotFound
	}
	var h Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	return &h, nil
}

func newHeader(ref SessionRef, created time.Time) *Header {
	return &Header{
		UID: ref.UID, Namespace: ref.Namespace, Name: ref.Name, Project: ref.Project,
		Created: created,
		Stats:   Stats{NextMsgSeq: 1, NextDiscSeq: 1, LastActivity: created},
	}
}

// Create makes an empty session. It fails with ErrExists if the UID is taken.
func (s *Store) Create(ctx context.Context, ref SessionRef) (Header, error) {
	h, err := s.create(ctx, ref)
	if err != nil {
		return Header{}, fmt.Errorf("create session %s: %w", ref.UID, err)
	}
	return h, nil
}

func (s *Store) create(ctx context.Context, ref SessionRef) (Header, error) {
	if err := validRef(ref); err != nil {
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
			return nil, ErrExists
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		h = newHeader(ref, s.now())
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
func (s *Store) Stats(ctx context.Context, uid string) (Stats, error) {
	h, err := s.get(ctx, uid)
	if err != nil {
		return Stats{}, fmt.Errorf("session stats %s: %w", uid, err)
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
