package pgstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// appendMessageSQL appends a message in one statement, so one round trip
// and one commit: the UPDATE takes the session row's lock (writers of the
// session, from any replica, queue there), checks maxMessages ($7, 0 for
// none), advances the sequence and the counters, and the INSERT stores the
// record with the sequence number it got, built around it ($2 before,
// $8 after: the same bytes the Pebble store keeps). A refused or missing
// session inserts nothing and returns no row; the transaction ends with
// the statement.
const appendMessageSQL = `WITH s AS (
	UPDATE mcp_sessions SET
		messages = messages + 1,
		next_msg_seq = next_msg_seq + 1,
		stored_bytes = stored_bytes + $3 + length(next_msg_seq::text),
		message_terms = message_terms + $5,
		last_activity = greatest(last_activity, $6)
	WHERE uid = $1 AND ($7 <= 0 OR messages < $7)
	RETURNING next_msg_seq - 1 AS seq, namespace, name
), m AS (
	INSERT INTO mcp_messages (uid, seq, rec, terms, tsv)
	SELECT $1, s.seq, $2::bytea || convert_to(s.seq::text, 'UTF8') || $8::bytea, $5, $4 FROM s
	RETURNING seq
)
SELECT m.seq, s.namespace, s.name FROM m, s`

// AppendMessage adds a message at the end of the history and returns its
// sequence number: contiguous from 1, whatever replicas append at once. A
// write past limits.MaxMessages, or content larger than
// limits.MaxValueBytes, returns a *LimitError and changes nothing.
func (s *Store) AppendMessage(ctx context.Context, uid string, m store.Message, limits store.Limits) (uint64, error) {
	seq, err := s.appendMessage(ctx, uid, m, limits)
	if err != nil {
		return 0, fmt.Errorf("append message %s: %w", uid, err)
	}
	return seq, nil
}

func (s *Store) appendMessage(ctx context.Context, uid string, m store.Message, limits store.Limits) (uint64, error) {
	w, err := store.PrepareMessage(m, limits)
	if err != nil {
		return 0, err
	}
	done, err := s.enter(ctx, uid)
	if err != nil {
		return 0, err
	}
	defer done()
	tsv, terms := vector(w.Content())
	var maxMessages int64
	if limits.MaxMessages != nil {
		maxMessages = *limits.MaxMessages
	}
	// An append refused as over the limit is retried once when the count
	// read afterwards says it fits (an import replaced the session between
	// the two statements).
	for attempt := 0; ; attempt++ {
		now := s.now()
		c, err := newAppendCall(uid, w, tsv, terms, now, maxMessages)
		if err != nil {
			return 0, err
		}
		if err := s.appends.do(ctx, c); err != nil {
			return 0, err
		}
		if c.appended {
			s.notifier.changed(store.Change{UID: uid, Namespace: string(c.ns), Name: string(c.name)})
			return uint64(c.seq), nil
		}
		// Nothing appended: the session is missing, or full.
		h, err := s.get(ctx, uid)
		if err != nil {
			return 0, err
		}
		if err := w.CheckMessages(h.Messages + 1); err != nil || attempt > 0 {
			if err == nil {
				err = fmt.Errorf("the session's history changed during the append; retry")
			}
			return 0, err
		}
	}
}

// newAppendCall is the append of w to uid's history at now, refused if
// the session holds maxMessages (0: no limit): appendMessageSQL's
// arguments.
func newAppendCall(uid string, w store.MessageWrite, tsv pgtype.TSVector, terms int, now time.Time, maxMessages int64) (*appendCall, error) {
	head, tail, err := w.Encode(now)
	if err != nil {
		return nil, err
	}
	base := store.StoredSize(uid, store.KindMessage, "", append(append([]byte(nil), head...), tail...))
	return &appendCall{uid: uid, args: []any{uid, head, base, tsv, terms, now, maxMessages, tail}}, nil
}

// History returns up to limit messages starting at sequence number fromSeq
// (0 means from the start), oldest first. next is the fromSeq of the
// following page, or 0 when there is none.
func (s *Store) History(ctx context.Context, uid string, fromSeq uint64, limit int) (msgs []store.Message, next uint64, err error) {
	fromSeq, limit = store.HistoryPage(fromSeq, limit)
	err = s.scanRecords(ctx, uid, `SELECT seq, rec FROM mcp_messages WHERE uid = $1 AND seq >= $2 ORDER BY seq LIMIT $3`,
		[]any{int64(fromSeq), limit + 1}, func(seq int64, rec []byte) error {
			if len(msgs) == limit {
				next = uint64(seq)
				return nil
			}
			m, err := store.DecodeMessage(rec)
			msgs = append(msgs, m)
			return err
		})
	if err != nil {
		return nil, 0, fmt.Errorf("history %s: %w", uid, err)
	}
	return msgs, next, nil
}

// Tail returns the last n messages, oldest first: what a resume briefing
// shows. It reads the primary key backwards from the end, so its cost does
// not depend on the length of the history.
func (s *Store) Tail(ctx context.Context, uid string, n int) ([]store.Message, error) {
	if n <= 0 {
		return nil, nil
	}
	var msgs []store.Message
	err := s.scanRecords(ctx, uid, `SELECT seq, rec FROM mcp_messages WHERE uid = $1 ORDER BY seq DESC LIMIT $2`,
		[]any{n}, func(_ int64, rec []byte) error {
			m, err := store.DecodeMessage(rec)
			msgs = append(msgs, m)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("tail %s: %w", uid, err)
	}
	slices.Reverse(msgs) // read newest first
	return msgs, nil
}

// scanRecords runs a query of (seq, rec) rows of one session, whose first
// parameter is the UID, in a snapshot with the session's existence.
func (s *Store) scanRecords(ctx context.Context, uid, sql string, args []any, fn func(seq int64, rec []byte) error) error {
	done, err := s.enter(ctx, uid)
	if err != nil {
		return err
	}
	defer done()
	return s.readTx(ctx, func(tx pgx.Tx) error {
		if err := sessionExists(ctx, tx, uid); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sql, append([]any{uid}, args...)...)
		if err != nil {
			return err
		}
		var seq int64
		var rec []byte
		_, err = pgx.ForEachRow(rows, []any{&seq, &rec}, func() error { return fn(seq, rec) })
		return err
	})
}
