package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

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

// contextRecord is the stored form; the key lives in the Pebble key.
type contextRecord struct {
	Value     json.RawMessage `json:"value"`
	AddedAt   time.Time       `json:"added_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Type      string          `json:"type"`
}

func (r contextRecord) entry(key string) ContextEntry {
	return ContextEntry{Key: key, Value: r.Value, AddedAt: r.AddedAt, UpdatedAt: r.UpdatedAt, Type: r.Type}
}

// contextSize is what an entry counts against MaxContextBytes.
func contextSize(key string, value []byte) int64 { return int64(len(key) + len(value)) }

func decodeContext(raw []byte) (contextRecord, error) {
	var r contextRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("decode context entry: %w", err)
	}
	return r, nil
}

// SetContext adds or replaces a context entry. The value must be valid JSON;
// it is stored compact. A write that would exceed limits returns a
// *LimitError and changes nothing.
func (s *Store) SetContext(ctx context.Context, uid, key string, value json.RawMessage, limits Limits) (ContextEntry, error) {
	out, err := s.setContext(ctx, uid, key, value, limits)
	if err != nil {
		return ContextEntry{}, fmt.Errorf("set context %s %q: %w", uid, key, err)
	}
	return out, nil
}

func (s *Store) setContext(ctx context.Context, uid, key string, value json.RawMessage, limits Limits) (ContextEntry, error) {
	if err := validKey(key); err != nil {
		return ContextEntry{}, err
	}
	v, err := compactJSON(value)
	if err != nil {
		return ContextEntry{}, err
	}
	if err := checkValue(limits, int64(len(v))); err != nil {
		return ContextEntry{}, err
	}
	var out ContextEntry
	err = s.mutate(ctx, uid, func(h *Header, b *pebble.Batch, now time.Time) error {
		k := ctxKey(uid, key)
		rec := contextRecord{Value: v, AddedAt: now, UpdatedAt: now, Type: pythonType(v)}
		var oldSize, oldStored int64
		oldRaw, found, err := getRaw(s.db, k)
		if err != nil {
			return err
		}
		if found {
			old, err := decodeContext(oldRaw)
			if err != nil {
				return err
			}
			rec.AddedAt = old.AddedAt
			oldSize = contextSize(key, old.Value)
			oldStored = int64(len(k) + len(oldRaw))
			h.ContextItems--
		}
		newSize := contextSize(key, v)
		if err := checkContext(limits, h.ContextBytes, h.ContextBytes-oldSize+newSize); err != nil {
			return err
		}
		enc, err := encodeJSON(rec)
		if err != nil {
			return err
		}
		h.ContextItems++
		h.ContextBytes += newSize - oldSize
		h.StoredBytes += int64(len(k)+len(enc)) - oldStored
		out = rec.entry(key)
		return b.Set(k, enc, nil)
	})
	return out, err
}

// GetContext returns one context entry, or ErrNotFound.
func (s *Store) GetContext(ctx context.Context, uid, key string) (ContextEntry, error) {
	out, err := s.getContext(ctx, uid, key)
	if err != nil {
		return ContextEntry{}, fmt.Errorf("get context %s %q: %w", uid, key, err)
	}
	return out, nil
}

func (s *Store) getContext(ctx context.Context, uid, key string) (ContextEntry, error) {
	if err := validKey(key); err != nil {
		return ContextEntry{}, err
	}
	done, err := s.enter(ctx, uid)
	if err != nil {
		return ContextEntry{}, err
	}
	defer done()
	raw, found, err := getRaw(s.db, ctxKey(uid, key))
	if err != nil {
		return ContextEntry{}, err
	}
	if !found {
		// Say whether the session or only the key is missing.
		if _, err := readHeader(s.db, uid); err != nil {
			return ContextEntry{}, err
		}
		return ContextEntry{}, fmt.Errorf("context key %w", ErrNotFound)
	}
	rec, err := decodeContext(raw)
	if err != nil {
		return ContextEntry{}, err
	}
	return rec.entry(key), nil
}

// DeleteContext removes a context entry; ErrNotFound if it does not exist.
func (s *Store) DeleteContext(ctx context.Context, uid, key string) error {
	if err := s.deleteContext(ctx, uid, key); err != nil {
		return fmt.Errorf("delete context %s %q: %w", uid, key, err)
	}
	return nil
}

func (s *Store) deleteContext(ctx context.Context, uid, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	return s.mutate(ctx, uid, func(h *Header, b *pebble.Batch, _ time.Time) error {
		k := ctxKey(uid, key)
		oldRaw, found, err := getRaw(s.db, k)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("context key %w", ErrNotFound)
		}
		old, err := decodeContext(oldRaw)
		if err != nil {
			return err
		}
		h.ContextItems--
		h.ContextBytes -= contextSize(key, old.Value)
		h.StoredBytes -= int64(len(k) + len(oldRaw))
		return b.Delete(k, nil)
	})
}

// ListContext returns the entries whose key starts with prefix ("" for all),
// in key order, values included. Use ContextKeys when only names are needed.
func (s *Store) ListContext(ctx context.Context, uid, prefix string) ([]ContextEntry, error) {
	var out []ContextEntry
	err := s.scanContext(ctx, uid, prefix, func(key string, v []byte) error {
		rec, err := decodeContext(v)
		if err != nil {
			return err
		}
		out = append(out, rec.entry(key))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list context %s: %w", uid, err)
	}
	return out, nil
}

// ContextKeys returns the context keys starting with prefix, in order,
// without decoding values: what a resume briefing lists.
func (s *Store) ContextKeys(ctx context.Context, uid, prefix string) ([]string, error) {
	var out []string
	err := s.scanContext(ctx, uid, prefix, func(key string, _ []byte) error {
		out = append(out, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list context keys %s: %w", uid, err)
	}
	return out, nil
}

func (s *Store) scanContext(ctx context.Context, uid, prefix string, fn func(key string, v []byte) error) error {
	if prefix != "" {
		if err := validKey(prefix); err != nil {
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
