package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Indexes of a header write's term sums.
const (
	termsContext = iota
	termsMessage
	termsDiscovery
)

// SetContext adds or replaces a context entry. The value must be valid JSON;
// it is stored compact. A write that would exceed limits returns a
// *LimitError and changes nothing.
func (s *Store) SetContext(ctx context.Context, uid, key string, value json.RawMessage, limits store.Limits) (store.ContextEntry, error) {
	out, err := s.setContext(ctx, uid, key, value, limits)
	if err != nil {
		return store.ContextEntry{}, fmt.Errorf("set context %s %q: %w", uid, key, err)
	}
	return out, nil
}

func (s *Store) setContext(ctx context.Context, uid, key string, value json.RawMessage, limits store.Limits) (store.ContextEntry, error) {
	w, err := store.PrepareContext(key, value, limits)
	if err != nil {
		return store.ContextEntry{}, err
	}
	tsv, terms := vector(store.ContextText(key, w.Value))
	var out store.ContextEntry
	err = s.mutate(ctx, uid, func(tx pgx.Tx, h *store.Header, now time.Time) (delta [3]int64, err error) {
		old, oldTerms, err := contextRecord(ctx, tx, uid, key)
		if err != nil {
			return delta, err
		}
		enc, e, err := w.Apply(h, uid, old, now)
		if err != nil {
			return delta, err
		}
		_, err = tx.Exec(ctx, `INSERT INTO mcp_context (uid, key, rec, terms, tsv) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (uid, key) DO UPDATE SET rec = excluded.rec, terms = excluded.terms, tsv = excluded.tsv`,
			uid, []byte(key), enc, terms, tsv)
		out = e
		delta[termsContext] = int64(terms - oldTerms)
		return delta, err
	})
	return out, err
}

// contextRecord reads an entry's stored record and term count; nil when
// the key is not set.
func contextRecord(ctx context.Context, tx pgx.Tx, uid, key string) ([]byte, int, error) {
	var rec []byte
	var terms int
	err := tx.QueryRow(ctx, `SELECT rec, terms FROM mcp_context WHERE uid = $1 AND key = $2`, uid, []byte(key)).Scan(&rec, &terms)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, nil
	}
	return rec, terms, err
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
	var rec []byte
	var exists bool
	err = s.run(ctx, read, func(ctx context.Context) error {
		// One statement: whether the session exists, and the entry if any.
		return s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mcp_sessions WHERE uid = $1),
			(SELECT rec FROM mcp_context WHERE uid = $1 AND key = $2)`, uid, []byte(key)).Scan(&exists, &rec)
	})
	switch {
	case err != nil:
		return store.ContextEntry{}, err
	case !exists:
		return store.ContextEntry{}, store.ErrSessionNotFound
	case rec == nil:
		return store.ContextEntry{}, fmt.Errorf("context key %w", store.ErrNotFound)
	}
	r, err := store.DecodeContext(rec)
	if err != nil {
		return store.ContextEntry{}, err
	}
	return r.Entry(key), nil
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
	return s.mutate(ctx, uid, func(tx pgx.Tx, h *store.Header, now time.Time) (delta [3]int64, err error) {
		old, oldTerms, err := contextRecord(ctx, tx, uid, key)
		if err != nil {
			return delta, err
		}
		if err := store.ApplyDeleteContext(h, uid, key, old, now); err != nil {
			return delta, err
		}
		_, err = tx.Exec(ctx, `DELETE FROM mcp_context WHERE uid = $1 AND key = $2`, uid, []byte(key))
		delta[termsContext] = -int64(oldTerms)
		return delta, err
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

// scanContext calls fn with the entries whose key starts with prefix, in
// key (byte) order, read at one point in time with the session's
// existence.
func (s *Store) scanContext(ctx context.Context, uid, prefix string, values bool, fn func(key string, rec []byte) error) error {
	if prefix != "" {
		if err := store.ValidKey(prefix); err != nil {
			return err
		}
	}
	done, err := s.enter(ctx, uid)
	if err != nil {
		return err
	}
	defer done()
	col := "NULL::bytea"
	if values {
		col = "rec"
	}
	lower, upper := []byte(prefix), prefixEnd([]byte(prefix))
	return s.readTx(ctx, func(tx pgx.Tx) error {
		if err := sessionExists(ctx, tx, uid); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT key, `+col+` FROM mcp_context
			WHERE uid = $1 AND key >= $2 AND ($3::bytea IS NULL OR key < $3) ORDER BY key`, uid, lower, upper)
		if err != nil {
			return err
		}
		var key, rec []byte
		_, err = pgx.ForEachRow(rows, []any{&key, &rec}, func() error { return fn(string(key), rec) })
		return err
	})
}

// sessionExists is nil when the session exists, ErrSessionNotFound when not.
func sessionExists(ctx context.Context, tx pgx.Tx, uid string) error {
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mcp_sessions WHERE uid = $1)`, uid).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return store.ErrSessionNotFound
	}
	return nil
}

// readTx runs fn in a read-only transaction that sees one snapshot.
func (s *Store) readTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.tx(ctx, snapshot, fn)
}

// prefixEnd returns the smallest key greater than every key with the given
// prefix, for an exclusive upper bound; nil for no bound.
func prefixEnd(prefix []byte) []byte {
	if len(prefix) == 0 {
		return nil
	}
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
