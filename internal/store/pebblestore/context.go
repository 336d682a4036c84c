package pebblestore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// SetContext adds or replaces a context entry. The value must be valid JSON;
// it is stored compact. A write that would exceed limits returns a
// *LimitError and changes nothing.
func (s *Store) SetContext(ctx context.Context, uid, key string, value json.RawMessage, limits Limits) (store.ContextEntry, error) {
	out, err := s.setContext(ctx, uid, key, value, limits)
	if err != nil {
		return store.ContextEntry{}, fmt.Errorf("set context %s %q: %w", uid, key, err)
	}
	return out, nil
}

func (s *Store) setContext(ctx context.Context, uid, key string, value json.RawMessage, limits Limits) (store.ContextEntry, error) {
	w, err := store.PrepareContext(key, value, limits)
	if err != nil {
		return store.ContextEntry{}, err
	}
	var out store.ContextEntry
	err = s.mutate(ctx, uid, func(h *Header, b *pebble.Batch, now time.Time) error {
		k := ctxKey(uid, key)
		old, _, err := getRaw(s.db, k)
		if err != nil {
			return err
		}
		enc, e, err := w.Apply(h, uid, old, now)
		if err != nil {
			return err
		}
		out = e
		return b.Set(k, enc, nil)
	})
	return out, err
}

// GetContext returns one context entry, or ErrNotFound.
func (s *Store) GetContext(ctx context.Context, uid, key string) (store.ContextEntry, error) {
	out, err := s.getContext(ctx, uid, key)
	if err != nil {
		return store.ContextEntry{}, fmt.Errorf("get context %s %q: %w", uid, key, err)
	}
	return out, nil
}

func (s *Store) getContext(ctx context.Context, uid, key string) (store.ContextEntry, error) {
	if err := store.ValidKey(key); err != nil {
		return store.ContextEntry{}, err
	}
	done, err := s.enter(ctx, uid)
	if err != nil {
		return store.ContextEntry{}, err
	}
	defer done()
	raw, found, err := getRaw(s.db, ctxKey(uid, key))
	if err != nil {
		return store.ContextEntry{}, err
	}
	if !found {
		// Say whether the session or only the key is missing.
		if _, err := readHeader(s.db, uid); err != nil {
			return store.ContextEntry{}, err
		}
		return store.ContextEntry{}, fmt.Errorf("context key %w", store.ErrNotFound)
	}
	rec, err := store.DecodeContext(raw)
	if err != nil {
		return store.ContextEntry{}, err
	}
	return rec.Entry(key), nil
}

// DeleteContext removes a context entry; ErrNotFound if it does not exist.
func (s *Store) DeleteContext(ctx context.Context, uid, key string) error {
	if err := s.deleteContext(ctx, uid, key); err != nil {
		return fmt.Errorf("delete context %s %q: %w", uid, key, err)
	}
	return nil
}

func (s *Store) deleteContext(ctx context.Context, uid, key string) error {
	if err := store.ValidKey(key); err != nil {
		return err
	}
	return s.mutate(ctx, uid, func(h *Header, b *pebble.Batch, now time.Time) error {
		k := ctxKey(uid, key)
		old, _, err := getRaw(s.db, k)
		if err != nil {
			return err
		}
		if err := store.ApplyDeleteContext(h, uid, key, old, now); err != nil {
			return err
		}
		return b.Delete(k, nil)
	})
}

// ListContext returns the entries whose key starts with prefix ("" for all),
// in key order, values included. Use ContextKeys when only names are needed.
func (s *Store) ListContext(ctx context.Context, uid, prefix string) ([]store.ContextEntry, error) {
	return store.ListContextWith(ctx, s.scanContext, uid, prefix)
}

// ContextKeys returns the context keys starting with prefix, in order,
// without decoding values: what a resume briefing lists.
func (s *Store) ContextKeys(ctx context.Context, uid, prefix string) ([]string, error) {
	return store.ContextKeysWith(ctx, s.scanContext, uid, prefix)
}

// scanContext is the store.ContextScan of the Pebble store: a range scan
// of one snapshot (values are read either way).
func (s *Store) scanContext(ctx context.Context, uid, prefix string, _ bool, fn func(key string, v []byte) error) error {
	if prefix != "" {
		if err := store.ValidKey(prefix); err != nil {
			return err
		}
	}
	return s.read(ctx, uid, func(snap *pebble.Snapshot) error {
		base := len(ctxPrefix(uid))
		lower := ctxKey(uid, prefix)
		return scan(ctx, snap, lower, prefixEnd(lower), false, func(k, v []byte) error {
			return fn(string(k[base:]), v)
		})
	})
}
