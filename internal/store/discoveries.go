package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

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

func decodeDiscovery(raw []byte) (Discovery, error) {
	var d Discovery
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, fmt.Errorf("decode discovery: %w", err)
	}
	return d, nil
}

// AppendDiscovery records a discovery and returns its sequence number
// (contiguous from 1). A title and description together larger than
// limits.MaxValueBytes return a *LimitError and change nothing.
func (s *Store) AppendDiscovery(ctx context.Context, uid string, d Discovery, limits Limits) (uint64, error) {
	seq, err := s.appendDiscovery(ctx, uid, d, limits)
	if err != nil {
		return 0, fmt.Errorf("append discovery %s: %w", uid, err)
	}
	return seq, nil
}

func (s *Store) appendDiscovery(ctx context.Context, uid string, d Discovery, limits Limits) (uint64, error) {
	if err := validDiscovery(&d); err != nil {
		return 0, err
	}
	if err := checkValue(limits, discoverySize(d)); err != nil {
		return 0, err
	}
	var seq uint64
	err := s.mutate(ctx, uid, func(h *Header, b *pebble.Batch, now time.Time) error {
		d.Seq, d.Timestamp = h.NextDiscSeq, now
		enc, err := encodeJSON(&d)
		if err != nil {
			return err
		}
		k := discKey(uid, d.Seq)
		h.Discoveries++
		h.NextDiscSeq++
		h.StoredBytes += int64(len(k) + len(enc))
		seq = d.Seq
		return b.Set(k, enc, nil)
	})
	return seq, err
}

// ListDiscoveries returns the session's discoveries in sequence order, or
// newest first with RecentFirst.
func (s *Store) ListDiscoveries(ctx context.Context, uid string, opts ListOptions) ([]Discovery, error) {
	out, err := s.listDiscoveries(ctx, uid, opts)
	if err != nil {
		return nil, fmt.Errorf("list discoveries %s: %w", uid, err)
	}
	return out, nil
}

func (s *Store) listDiscoveries(ctx context.Context, uid string, opts ListOptions) ([]Discovery, error) {
	var out []Discovery
	err := s.read(ctx, uid, func(snap *pebble.Snapshot) error {
		p := discPrefix(uid)
		return scan(ctx, snap, p, prefixEnd(p), opts.RecentFirst, func(_, v []byte) error {
			d, err := decodeDiscovery(v)
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
