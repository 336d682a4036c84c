package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Kind says what a search hit is.
type Kind string

// Kinds of searchable records.
const (
	KindContext   Kind = "context"
	KindMessage   Kind = "message"
	KindDiscovery Kind = "discovery"
)

// DefaultSearchLimit is the number of hits when the caller passes limit <= 0.
const DefaultSearchLimit = 20

// Hit is one ranked search result. Key is set for context hits, Seq for
// messages and discoveries.
type Hit struct {
	UID     string  `json:"uid"`
	Kind    Kind    `json:"kind"`
	Key     string  `json:"key,omitempty"`
	Seq     uint64  `json:"seq,omitempty"`
	Score   float64 `json:"score"`
	Snippet string  `json:"snippet"`
}

// candidate is a matching document remembered during the scan; its text is
// re-read for the snippet only if it makes the top hits.
type candidate struct {
	Hit
	dbKey  []byte
	tf     []int32
	length int
}

// SearchOptions narrow a search.
type SearchOptions struct {
	// Limit is the most hits returned; DefaultSearchLimit when <= 0.
	Limit int
	// Kinds, when not empty, searches only records of these kinds: the
	// others are not read, and the statistics BM25 ranks by are those of
	// the records searched.
	Kinds []Kind
}

// Search ranks the context entries (key and the text of the JSON value),
// discoveries (title and description) and messages (content) of the given
// sessions against query with BM25, and returns the best hits. Words match
// their inflected forms (see analyzer).
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
func (s *Store) Search(ctx context.Context, query string, uids []string, opts SearchOptions) ([]Hit, error) {
	hits, err := s.search(ctx, query, uids, opts)
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", query, err)
	}
	return hits, nil
}

func (s *Store) search(ctx context.Context, query string, uids []string, opts SearchOptions) ([]Hit, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	for _, k := range opts.Kinds {
		if k != KindContext && k != KindMessage && k != KindDiscovery {
			return nil, invalidf("unknown kind %q: search context, message or discovery records", k)
		}
	}
	c := newCorpus(query)
	if len(c.terms) == 0 {
		return nil, invalidf("query has no words")
	}
	if len(uids) == 0 {
		return nil, invalidf("no sessions to search")
	}
	seen := map[string]bool{}
	for _, uid := range uids {
		if err := validUID(uid); err != nil {
			return nil, err
		}
		seen[uid] = true
	}
	done, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	snap := s.db.NewSnapshot()
	defer snap.Close()

	var cands []candidate
	ordered := make([]string, 0, len(seen))
	for uid := range seen {
		ordered = append(ordered, uid)
	}
	sort.Strings(ordered)
	for _, uid := range ordered {
		if err := scanSession(ctx, snap, uid, opts.Kinds, func(h Hit, k []byte, text string) {
			tf, n := c.add(text)
			if tf != nil {
				cands = append(cands, candidate{Hit: h, dbKey: append([]byte(nil), k...), tf: tf, length: n})
			}
		}); err != nil {
			return nil, err
		}
	}
	for i := range cands {
		cands[i].Score = c.score(cands[i].tf, cands[i].length)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].before(&cands[j]) })
	if len(cands) > limit {
		cands = cands[:limit]
	}
	hits := make([]Hit, 0, len(cands))
	for _, cd := range cands {
		raw, found, err := getRaw(snap, cd.dbKey)
		if err != nil {
			return nil, err
		}
		if found {
			if text, ok := docText(cd.Kind, cd.Key, raw); ok {
				cd.Snippet = c.snippet(text)
			}
		}
		hits = append(hits, cd.Hit)
	}
	return hits, nil
}

// before orders by score, then deterministically by identity so equal
// scores do not shuffle between calls.
func (a *candidate) before(b *candidate) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if a.UID != b.UID {
		return a.UID < b.UID
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.Key != b.Key {
		return a.Key < b.Key
	}
	return a.Seq < b.Seq
}

// scanSession calls fn with every searchable record of a session of the
// given kinds (all when none) and its text. Each kind is its own key range,
// so a search of one kind reads only that range.
func scanSession(ctx context.Context, r pebble.Reader, uid string, kinds []Kind, fn func(h Hit, k []byte, text string)) error {
	prefixes := map[Kind][]byte{KindContext: ctxPrefix(uid), KindDiscovery: discPrefix(uid), KindMessage: msgPrefix(uid)}
	ranges := [][]byte{sessionPrefix(uid)}
	if len(kinds) > 0 {
		ranges = ranges[:0]
		for _, k := range []Kind{KindContext, KindDiscovery, KindMessage} { // key order
			if slices.Contains(kinds, k) {
				ranges = append(ranges, prefixes[k])
			}
		}
	}
	record := func(k, v []byte) error {
		h := Hit{UID: uid}
		switch {
		case bytes.HasPrefix(k, prefixes[KindContext]):
			h.Kind, h.Key = KindContext, string(k[len(prefixes[KindContext]):])
		case bytes.HasPrefix(k, prefixes[KindMessage]):
			seq, err := parseSeq(k, prefixes[KindMessage])
			if err != nil {
				return err
			}
			h.Kind, h.Seq = KindMessage, seq
		case bytes.HasPrefix(k, prefixes[KindDiscovery]):
			seq, err := parseSeq(k, prefixes[KindDiscovery])
			if err != nil {
				return err
			}
			h.Kind, h.Seq = KindDiscovery, seq
		default:
			return nil // header, extra
		}
		text, ok := docText(h.Kind, h.Key, v)
		if !ok {
			return fmt.Errorf("decode %s record %q", h.Kind, k)
		}
		fn(h, k, text)
		return nil
	}
	for _, p := range ranges {
		if err := scan(ctx, r, p, prefixEnd(p), false, record); err != nil {
			return err
		}
	}
	return nil
}

// docText is the searchable text of a stored record.
func docText(kind Kind, key string, raw []byte) (string, bool) {
	switch kind {
	case KindContext:
		var r struct {
			Value json.RawMessage `json:"value"`
		}
		if json.Unmarshal(raw, &r) != nil {
			return "", false
		}
		return key + "\n" + flattenJSON(r.Value), true
	case KindMessage:
		var m struct {
			Content string `json:"content"`
		}
		if json.Unmarshal(raw, &m) != nil {
			return "", false
		}
		return m.Content, true
	case KindDiscovery:
		var d struct {
			Title       string `json:"title"`
			Description string `json:"description"`
		}
		if json.Unmarshal(raw, &d) != nil {
			return "", false
		}
		return d.Title + "\n" + d.Description, true
	}
	return "", false
}

// flattenJSON returns the member names, strings and numbers of a JSON value
// separated by newlines, so {"memory_usage": "2.3GB"} is searchable as
// "memory_usage 2.3GB" without JSON punctuation in snippets.
func flattenJSON(v []byte) string {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var sb strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		var s string
		switch t := tok.(type) {
		case string:
			s = t
		case json.Number:
			s = t.String()
		default:
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(s)
	}
	return sb.String()
}
