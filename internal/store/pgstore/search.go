package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// The kinds' tables and term sums.
var kindTables = map[store.Kind]struct{ table, key, count, terms string }{
	store.KindContext:   {"mcp_context", "key", "context_items", "context_terms"},
	store.KindDiscovery: {"mcp_discoveries", "NULL::bytea", "discoveries", "discovery_terms"},
	store.KindMessage:   {"mcp_messages", "NULL::bytea", "messages", "message_terms"},
}

// searchSQL ranks the matching records of the sessions $1 for the terms $2
// (tsquery $3) with BM25, in one statement and so one snapshot, and returns
// the best $4 with their records for the snippets. The GIN index on (uid,
// tsv) finds the records holding any term; a record's term counts are its
// tsvector's position counts (see tsv.go); the corpus (document count,
// average length) is that of the sessions and kinds searched, from the
// counters kept in mcp_sessions, exactly as the Pebble store counts it.
// The arithmetic follows store.Corpus.Score step by step in float8, with
// its constants written out (k1 = store.BM25K1 = 1.2, so k1+1 = 2.2; b =
// store.BM25B = 0.75, so 1-b = 0.25; TestSearchConstants holds them to it).
func searchSQL(kinds []store.Kind) string {
	var docs, counts, terms []string
	for _, k := range kinds {
		t := kindTables[k]
		seq := "seq"
		if k == store.KindContext {
			seq = "0::bigint"
		}
		docs = append(docs, fmt.Sprintf(`SELECT '%s'::text AS kind, uid, %s AS key, %s AS seq, terms, tsv FROM %s WHERE uid = ANY($1) AND tsv @@ $3::tsquery`,
			k, t.key, seq, t.table))
		counts = append(counts, t.count)
		terms = append(terms, t.terms)
	}
	return `WITH q AS (
	SELECT i::int AS i, term FROM unnest($2::text[]) WITH ORDINALITY AS q(term, i)
), corpus AS (
	SELECT coalesce(sum(` + strings.Join(counts, "+") + `), 0)::float8 AS n,
		coalesce(sum(` + strings.Join(terms, "+") + `), 0)::float8 AS total
	FROM mcp_sessions WHERE uid = ANY($1)
), c AS (
	SELECT n, CASE WHEN n = 0 OR total = 0 THEN 1::float8 ELSE total / n END AS avg FROM corpus
), docs AS (
	` + strings.Join(docs, "\n\tUNION ALL\n\t") + `
), tf AS (
	SELECT d.kind, d.uid, d.key, d.seq, d.terms, q.i, cardinality(l.positions)::float8 AS f
	FROM docs d CROSS JOIN LATERAL unnest(d.tsv) AS l JOIN q ON q.term = l.lexeme
), df AS (
	SELECT i, count(*)::float8 AS df FROM tf GROUP BY i
), scored AS (
	SELECT tf.uid, tf.kind, tf.key, tf.seq,
		sum(ln(1::float8 + (c.n - df.df + 0.5::float8) / (df.df + 0.5::float8)) * tf.f * 2.2::float8
			/ (tf.f + 1.2::float8 * (0.25::float8 + 0.75::float8 * tf.terms / c.avg))) AS score
	FROM tf JOIN df USING (i) CROSS JOIN c
	GROUP BY tf.uid, tf.kind, tf.key, tf.seq
), top AS (
	SELECT * FROM scored
	ORDER BY score DESC, uid, kind COLLATE "C", key, seq
	LIMIT $4
)
SELECT top.uid, top.kind, top.key, top.seq, top.score,
	CASE top.kind
		WHEN 'context' THEN (SELECT rec FROM mcp_context r WHERE r.uid = top.uid AND r.key = top.key)
		WHEN 'discovery' THEN (SELECT rec FROM mcp_discoveries r WHERE r.uid = top.uid AND r.seq = top.seq)
		ELSE (SELECT rec FROM mcp_messages r WHERE r.uid = top.uid AND r.seq = top.seq)
	END
FROM top
ORDER BY top.score DESC, top.uid, top.kind COLLATE "C", top.key, top.seq`
}

// Search ranks the context entries (key and the text of the JSON value),
// discoveries (title and description) and messages (content) of the given
// sessions against query with BM25 and returns the best hits, as the
// Pebble store does (store.Query): the same terms, the same corpus, the
// same scores up to rounding, the same snippets.
func (s *Store) Search(ctx context.Context, query string, uids []string, opts store.SearchOptions) ([]store.Hit, error) {
	hits, err := s.search(ctx, query, uids, opts)
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", query, err)
	}
	return hits, nil
}

func (s *Store) search(ctx context.Context, query string, uids []string, opts store.SearchOptions) ([]store.Hit, error) {
	q, err := store.PrepareSearch(query, uids, opts)
	if err != nil {
		return nil, err
	}
	done, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	terms := queryTerms(q.Terms())
	var hits []store.Hit
	err = s.readTx(ctx, func(tx pgx.Tx) error {
		hits = hits[:0]
		rows, err := tx.Query(ctx, searchSQL(q.Kinds), q.UIDs, terms, tsquery(terms), q.Limit)
		if err != nil {
			return err
		}
		var (
			h        store.Hit
			kind     string
			key, rec []byte
			seq      int64
		)
		_, err = pgx.ForEachRow(rows, []any{&h.UID, &kind, &key, &seq, &h.Score, &rec}, func() error {
			h.Kind, h.Key, h.Seq = store.Kind(kind), string(key), uint64(seq)
			h.Snippet = ""
			if text, ok := store.DocText(h.Kind, h.Key, rec); ok {
				h.Snippet = q.Snippet(text)
			}
			hits = append(hits, h)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if hits == nil {
		hits = []store.Hit{}
	}
	return hits, nil
}
