package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// headerColumns are the columns of mcp_sessions that make a store.Header,
// in the order scanHeader reads them.
const headerColumns = `uid, namespace, name, project, created, context_items, context_bytes, messages,
	discoveries, stored_bytes, next_msg_seq, next_disc_seq, last_activity`

// scanHeader reads a row of headerColumns.
func scanHeader(row pgx.Row) (*store.Header, error) {
	var (
		h                   store.Header
		ns, name, project   []byte
		nextMsg, nextDisc   int64
		created, lastActive time.Time
	)
	err := row.Scan(&h.UID, &ns, &name, &project, &created, &h.ContextItems, &h.ContextBytes, &h.Messages,
		&h.Discoveries, &h.StoredBytes, &nextMsg, &nextDisc, &lastActive)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrSessionNotFound
	}
	if err != nil {
		return nil, err
	}
	h.Namespace, h.Name, h.Project = string(ns), string(name), string(project)
	h.Created, h.LastActivity = created.UTC(), lastActive.UTC()
	h.NextMsgSeq, h.NextDiscSeq = uint64(nextMsg), uint64(nextDisc)
	return &h, nil
}

// readHeader reads a session's header, FOR UPDATE when the caller is to
// write it: the row lock is what serialises a session's writers across
// replicas.
func readHeader(ctx context.Context, q pgx.Tx, uid string, forUpdate bool) (*store.Header, error) {
	sql := `SELECT ` + headerColumns + ` FROM mcp_sessions WHERE uid = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	return scanHeader(q.QueryRow(ctx, sql, uid))
}

// writeHeader stores a header's counters (its identity never changes).
func writeHeader(ctx context.Context, tx pgx.Tx, h *store.Header, termsDelta [3]int64) error {
	_, err := tx.Exec(ctx, `UPDATE mcp_sessions SET context_items = $2, context_bytes = $3, messages = $4,
		discoveries = $5, stored_bytes = $6, next_msg_seq = $7, next_disc_seq = $8,
		last_activity = greatest(last_activity, $9),
		context_terms = context_terms + $10, message_terms = message_terms + $11, discovery_terms = discovery_terms + $12
		WHERE uid = $1`,
		h.UID, h.ContextItems, h.ContextBytes, h.Messages, h.Discoveries, h.StoredBytes,
		int64(h.NextMsgSeq), int64(h.NextDiscSeq), h.LastActivity, termsDelta[0], termsDelta[1], termsDelta[2])
	return err
}

// Create makes an empty session. It fails with ErrExists if the UID is taken.
func (s *Store) Create(ctx context.Context, ref store.SessionRef) (store.Header, error) {
	h, err := s.create(ctx, ref)
	if err != nil {
		return store.Header{}, fmt.Errorf("create session %s: %w", ref.UID, err)
	}
	return h, nil
}

func (s *Store) create(ctx context.Context, ref store.SessionRef) (store.Header, error) {
	if err := store.ValidRef(ref); err != nil {
		return store.Header{}, err
	}
	done, err := s.begin(ctx)
	if err != nil {
		return store.Header{}, err
	}
	defer done()
	h := store.NewHeader(ref, s.now())
	var created bool
	err = s.run(ctx, write, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `INSERT INTO mcp_sessions (uid, namespace, name, project, created, last_activity)
			VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (uid) DO NOTHING`,
			h.UID, []byte(h.Namespace), []byte(h.Name), []byte(h.Project), h.Created)
		created = err == nil && tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return store.Header{}, err
	}
	if !created {
		return store.Header{}, store.ErrExists
	}
	return *h, nil
}

// Get returns the session header with its counters.
func (s *Store) Get(ctx context.Context, uid string) (store.Header, error) {
	h, err := s.get(ctx, uid)
	if err != nil {
		return store.Header{}, fmt.Errorf("get session %s: %w", uid, err)
	}
	return h, nil
}

func (s *Store) get(ctx context.Context, uid string) (store.Header, error) {
	done, err := s.enter(ctx, uid)
	if err != nil {
		return store.Header{}, err
	}
	defer done()
	var h *store.Header
	err = s.run(ctx, read, func(ctx context.Context) error {
		var err error
		h, err = scanHeader(s.pool.QueryRow(ctx, `SELECT `+headerColumns+` FROM mcp_sessions WHERE uid = $1`, uid))
		return err
	})
	if err != nil {
		return store.Header{}, err
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

// Erase deletes the session's row and every record of it in one
// transaction. Erasing a missing session succeeds: the finalizer that
// calls it may be retried.
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
	return s.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// The session's row first: its lock makes writers of the session
		// wait, and then find it gone.
		for _, table := range []string{"mcp_sessions", "mcp_context", "mcp_messages", "mcp_discoveries"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE uid = $1`, uid); err != nil {
				return err
			}
		}
		return nil
	})
}

// mutate runs one write to an existing session in a transaction: fn gets
// the header, read FOR UPDATE, to update, and the write's timestamp; the
// header is written back with fn's changes to the term sums. An error from
// fn rolls everything back. The change is announced to other replicas
// after the commit.
func (s *Store) mutate(ctx context.Context, uid string, fn func(tx pgx.Tx, h *store.Header, now time.Time) (termsDelta [3]int64, err error)) error {
	done, err := s.enter(ctx, uid)
	if err != nil {
		return err
	}
	defer done()
	var h *store.Header
	err = s.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		if h, err = readHeader(ctx, tx, uid, true); err != nil {
			return err
		}
		now := s.now()
		delta, err := fn(tx, h, now)
		if err != nil {
			return err
		}
		return writeHeader(ctx, tx, h, delta)
	})
	if err == nil {
		s.notifier.changed(store.Change{UID: uid, Namespace: h.Namespace, Name: h.Name})
	}
	return err
}

// Sessions calls fn with every session's header in UID order, read from
// one snapshot; fn runs after the read, outside its transaction.
func (s *Store) Sessions(ctx context.Context, fn func(store.Header) error) error {
	done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	var all []store.Header
	err = s.readTx(ctx, func(tx pgx.Tx) error {
		all = all[:0]
		rows, err := tx.Query(ctx, `SELECT `+headerColumns+` FROM mcp_sessions ORDER BY uid`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			h, err := scanHeader(rows)
			if err != nil {
				return err
			}
			all = append(all, *h)
		}
		return rows.Err()
	})
	done()
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	for _, h := range all {
		if err := fn(h); err != nil {
			return err
		}
	}
	return nil
}
