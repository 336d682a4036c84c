package pebblestore

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// AppendDiscovery records a discovery and returns its sequence number
// (contiguous from 1). A title and description together larger than
// limits.MaxValueBytes return a *LimitError and change nothing.
func (s *Store) AppendDiscovery(ctx context.Context, uid string, d store.Discovery, limits Limits) (uint64, error) {
	seq, err := s.appendDiscovery(ctx, uid, d, limits)
	if err != nil {
		return 0, fmt.Errorf("append discovery %s: %w", uid, err)
	}
	return seq, nil
}

func (s *Store) appendDiscovery(ctx context.Context, uid string, d store.Discovery, limits Limits) (uint64, error) {
	w, err := store.PrepareDiscovery(d, limits)
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
		return b.Set(discKey(uid, n), enc, nil)
	})
	return seq, err
}

// ListDiscoveries returns the session's discoveries in sequence order, or
// newest first with RecentFirst.
func (s *Store) ListDiscoveries(ctx context.Context, uid string, opts store.ListOptions) ([]store.Discovery, error) {
	out, err := s.listDiscoveries(ctx, uid, opts)
	if err != nil {
		return nil, fmt.Errorf("list discoveries %s: %w", uid, err)
	}
	return out, nil
}

func (s *Store) listDiscoveries(ctx context.Context, uid string, opts store.ListOptions) ([]store.Discovery, error) {
	var out []store.Discovery
	err := s.read(ctx, uid, func(snap *pebble.Snapshot) error {
		p := discPrefix(uid)
		return scan(ctx, snap, p, prefixEnd(p), opts.RecentFirst, func(_, v []byte) error {
			d, err := store.DecodeDiscovery(v)
			if err != nil {
				return err
			}
			out = append(out, d)
			if opts.Limit > 0 && len(out) == opts.Limit {
				return errStop
			}
			return nil
		})
	})
	return out, err
}
