package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// AppendDiscovery records a discovery and returns its sequence number
// (contiguous from 1). A title and description together larger than
// limits.MaxValueBytes return a *LimitError and change nothing.
func (s *Store) AppendDiscovery(ctx context.Context, uid string, d store.Discovery, limits store.Limits) (uint64, error) {
	seq, err := s.appendDiscovery(ctx, uid, d, limits)
	if err != nil {
		return 0, fmt.Errorf("append discovery %s: %w", uid, err)
	}
	return seq, nil
}

func (s *Store) appendDiscovery(ctx context.Context, uid string, d store.Discovery, limits store.Limits) (uint64, error) {
	w, err := store.PrepareDiscovery(d, limits)
	if err != nil {
		return 0, err
	}
	tsv, terms := vector(w.Text())
	var seq uint64
	err = s.mutate(ctx, uid, func(tx pgx.Tx, h *store.Header, now time.Time) (delta [3]int64, err error) {
		enc, n, err := w.Apply(h, uid, now)
		if err != nil {
			return delta, err
		}
		_, err = tx.Exec(ctx, `INSERT INTO mcp_discoveries (uid, seq, rec, terms, tsv) VALUES ($1, $2, $3, $4, $5)`,
			uid, int64(n), enc, terms, tsv)
		seq = n
		delta[termsDiscovery] = int64(terms)
		return delta, err
	})
	return seq, err
}

// ListDiscoveries returns the session's discoveries in sequence order, or
// newest first with RecentFirst.
func (s *Store) ListDiscoveries(ctx context.Context, uid string, opts store.ListOptions) ([]store.Discovery, error) {
	order := "ASC"
	if opts.RecentFirst {
		order = "DESC"
	}
	limit := any(nil) // no LIMIT
	if opts.Limit > 0 {
		limit = opts.Limit
	}
	var out []store.Discovery
	err := s.scanRecords(ctx, uid, `SELECT seq, rec FROM mcp_discoveries WHERE uid = $1 ORDER BY seq `+order+` LIMIT $2`,
		[]any{limit}, func(_ int64, rec []byte) error {
			d, err := store.DecodeDiscovery(rec)
			out = append(out, d)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("list discoveries %s: %w", uid, err)
	}
	return out, nil
}
