package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Import writes doc as session ref in one transaction: either the whole
// document is stored or, on any error, nothing changes. The document is
// checked by store.PlanImport: its format, then every record against the
// rules and limits of a single write (an *InvalidError or *LimitError
// names the record). Sequence numbers are assigned 1..n in document order.
// ref.Project, when empty, is taken from the document.
func (s *Store) Import(ctx context.Context, ref store.SessionRef, doc *document.Document, opts store.ImportOptions) (store.Header, error) {
	h, err := s.importDoc(ctx, ref, doc, opts)
	if err != nil {
		return store.Header{}, fmt.Errorf("import session %s: %w", ref.UID, err)
	}
	return h, nil
}

func (s *Store) importDoc(ctx context.Context, ref store.SessionRef, doc *document.Document, opts store.ImportOptions) (store.Header, error) {
	plan, err := store.PlanImport(ref, doc, s.now(), opts.Limits)
	if err != nil {
		return store.Header{}, err
	}
	done, err := s.begin(ctx)
	if err != nil {
		return store.Header{}, err
	}
	defer done()
	h := plan.Header
	rows := map[store.Kind][][]any{}
	var extra []byte
	var terms [3]int64
	for _, r := range plan.Records {
		if r.Kind == store.KindExtra {
			extra = r.Value
			continue
		}
		tsv, n := vector(r.Text)
		switch r.Kind {
		case store.KindContext:
			rows[r.Kind] = append(rows[r.Kind], []any{ref.UID, []byte(r.Key), r.Value, n, tsv})
			terms[termsContext] += int64(n)
		case store.KindMessage:
			rows[r.Kind] = append(rows[r.Kind], []any{ref.UID, int64(r.Seq), r.Value, n, tsv})
			terms[termsMessage] += int64(n)
		case store.KindDiscovery:
			rows[r.Kind] = append(rows[r.Kind], []any{ref.UID, int64(r.Seq), r.Value, n, tsv})
			terms[termsDiscovery] += int64(n)
		}
	}
	errExists := errors.New("exists")
	err = s.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// The session's row, new or (with Replace) overwritten, locked for
		// the rest of the transaction.
		sql := `INSERT INTO mcp_sessions AS s (uid, namespace, name, project, created, context_items, context_bytes,
				messages, discoveries, stored_bytes, next_msg_seq, next_disc_seq, last_activity,
				context_terms, message_terms, discovery_terms, extra)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
			ON CONFLICT (uid) DO `
		if opts.Replace {
			sql += `UPDATE SET namespace = excluded.namespace, name = excluded.name, project = excluded.project,
				created = excluded.created, context_items = excluded.context_items, context_bytes = excluded.context_bytes,
				messages = excluded.messages, discoveries = excluded.discoveries, stored_bytes = excluded.stored_bytes,
				next_msg_seq = excluded.next_msg_seq, next_disc_seq = excluded.next_disc_seq,
				last_activity = excluded.last_activity, context_terms = excluded.context_terms,
				message_terms = excluded.message_terms, discovery_terms = excluded.discovery_terms, extra = excluded.extra`
		} else {
			sql += `NOTHING`
		}
		tag, err := tx.Exec(ctx, sql, h.UID, []byte(h.Namespace), []byte(h.Name), []byte(h.Project), h.Created,
			h.ContextItems, h.ContextBytes, h.Messages, h.Discoveries, h.StoredBytes, int64(h.NextMsgSeq), int64(h.NextDiscSeq),
			h.LastActivity, terms[termsContext], terms[termsMessage], terms[termsDiscovery], extra)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errExists
		}
		// Clear the records even for a new session, so the result is
		// exactly the document whatever was there.
		for _, k := range store.Kinds {
			t := kindTables[k].table
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE uid = $1`, ref.UID); err != nil {
				return err
			}
			if len(rows[k]) == 0 {
				continue
			}
			cols := []string{"uid", "seq", "rec", "terms", "tsv"}
			if k == store.KindContext {
				cols[1] = "key"
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t}, cols, pgx.CopyFromRows(rows[k])); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errExists) {
		return store.Header{}, store.ErrExists
	}
	if err != nil {
		return store.Header{}, err
	}
	s.notifier.changed(store.Change{UID: h.UID, Namespace: h.Namespace, Name: h.Name})
	return *h, nil
}
