package pebblestore

import (
	"context"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// candidate is a matching document remembered during the scan; its text is
// re-read for the snippet only if it makes the top hits.
type candidate struct {
	store.Hit
	dbKey  []byte
	tf     []int32
	length int
}

// Search ranks the context entries (key and the text of the JSON value),
// discoveries (title and description) and messages (content) of the given
// sessions against query with BM25, and returns the best hits. Words match
// their inflected forms (see store.Analyze).
//
// The statistics are computed at query time by scanning the sessions' keys
// rather than kept in an inverted index. Sessions are small enough (a long
// one is ~100k messages, ~100 MB) that a scan is fast, and an index would
// add write amplification to every append, a second structure to keep
// consistent through Erase and Import, and term statistics that would have to
// be per session anyway because a caller may only search its own sessions.
// The corpus for IDF and average length is exactly the documents of the
// sessions searched, so results do not depend on other tenants' data.
//
// uids must name at least one session, so a caller can never search every
// tenant by passing nothing; unknown uids contribute no documents (a session
// may be erased between listing and searching).
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
	snap := s.db.NewSnapshot()
	defer snap.Close()

	var cands []candidate
	for _, uid := range q.UIDs {
		if err := scanSession(ctx, snap, uid, q.Kinds, func(h store.Hit, k []byte, text string) {
			tf, n := q.Add(text)
			if tf != nil {
				cands = append(cands, candidate{Hit: h, dbKey: append([]byte(nil), k...), tf: tf, length: n})
			}
		}); err != nil {
			return nil, err
		}
	}
	for i := range cands {
		cands[i].Score = q.Score(cands[i].tf, cands[i].length)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Before(&cands[j].Hit) })
	if len(cands) > q.Limit {
		cands = cands[:q.Limit]
	}
	hits := make([]store.Hit, 0, len(cands))
	for _, cd := range cands {
		raw, found, err := getRaw(snap, cd.dbKey)
		if err != nil {
			return nil, err
		}
		if found {
			if text, ok := store.DocText(cd.Kind, cd.Key, raw); ok {
				cd.Snippet = q.Snippet(text)
			}
		}
		hits = append(hits, cd.Hit)
	}
	return hits, nil
}

// scanSession calls fn with every searchable record of a session of the
// given kinds and its text. Each kind is its own key range, so a search of
// one kind reads only that range.
func scanSession(ctx context.Context, r pebble.Reader, uid string, kinds []store.Kind, fn func(h store.Hit, k []byte, text string)) error {
	prefixes := map[store.Kind][]byte{store.KindContext: ctxPrefix(uid), store.KindDiscovery: discPrefix(uid), store.KindMessage: msgPrefix(uid)}
	record := func(kind store.Kind) func(k, v []byte) error {
		p := prefixes[kind]
		return func(k, v []byte) error {
			h := store.Hit{UID: uid, Kind: kind}
			if kind == store.KindContext {
				h.Key = string(k[len(p):])
			} else {
				seq, err := parseSeq(k, p)
				if err != nil {
					return err
				}
				h.Seq = seq
			}
			text, ok := store.DocText(h.Kind, h.Key, v)
			if !ok {
				return fmt.Errorf("decode %s record %q", h.Kind, k)
			}
			fn(h, k, text)
			return nil
		}
	}
	for _, kind := range kinds { // key order: context, disc, msg
		p := prefixes[kind]
		if err := scan(ctx, r, p, prefixEnd(p), false, record(kind)); err != nil {
			return err
		}
	}
	return nil
}
