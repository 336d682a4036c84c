package store

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strings"
)

// Kind says what a search hit is.
type Kind string

// Kinds of searchable records.
const (
	KindContext   Kind = "context"
	KindMessage   Kind = "message"
	KindDiscovery Kind = "discovery"
)

// Kinds are the searchable kinds in the order of their names, which is the
// order hits of equal score are returned in.
var Kinds = []Kind{KindContext, KindDiscovery, KindMessage}

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

// Before orders hits by score, then deterministically by identity so equal
// scores do not shuffle between calls.
func (a *Hit) Before(b *Hit) bool {
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

// SearchOptions narrow a search.
type SearchOptions struct {
	// Limit is the most hits returned; DefaultSearchLimit when <= 0.
	Limit int
	// Kinds, when not empty, searches only records of these kinds: the
	// others are not read, and the statistics BM25 ranks by are those of
	// the records searched.
	Kinds []Kind
}

// Query is a search checked and analysed, ready for a backend to run:
// every backend ranks the same records the same way (BM25 over the
// sessions and kinds searched; see Corpus) and returns the same hits.
type Query struct {
	// Corpus holds the query's terms and counts the documents a backend
	// feeds it.
	*Corpus
	// UIDs are the sessions to search, each once, sorted.
	UIDs []string
	// Kinds are the kinds to search, in the order of Kinds.
	Kinds []Kind
	// Limit is the most hits to return.
	Limit int
}

// PrepareSearch checks a search's arguments: a query with at least one
// word, at least one session (so a caller can never search every tenant by
// passing nothing), valid UIDs and known kinds.
func PrepareSearch(query string, uids []string, opts SearchOptions) (*Query, error) {
	q := &Query{Limit: opts.Limit}
	if q.Limit <= 0 {
		q.Limit = DefaultSearchLimit
	}
	for _, k := range opts.Kinds {
		if !slices.Contains(Kinds, k) {
			return nil, invalidf("unknown kind %q: search context, message or discovery records", k)
		}
	}
	for _, k := range Kinds {
		if len(opts.Kinds) == 0 || slices.Contains(opts.Kinds, k) {
			q.Kinds = append(q.Kinds, k)
		}
	}
	q.Corpus = NewCorpus(query)
	if len(q.Terms()) == 0 {
		return nil, invalidf("query has no words")
	}
	if len(uids) == 0 {
		return nil, invalidf("no sessions to search")
	}
	for _, uid := range uids {
		if err := ValidUID(uid); err != nil {
			return nil, err
		}
	}
	q.UIDs = slices.Clone(uids)
	sort.Strings(q.UIDs)
	q.UIDs = slices.Compact(q.UIDs)
	return q, nil
}

// DocText is the searchable text of a stored record: a context entry's key
// and the text of its JSON value, a message's content, a discovery's title
// and description.
func DocText(kind Kind, key string, raw []byte) (string, bool) {
	switch kind {
	case KindContext:
		var r struct {
			Value json.RawMessage `json:"value"`
		}
		if json.Unmarshal(raw, &r) != nil {
			return "", false
		}
		return ContextText(key, r.Value), true
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

// ContextText is the searchable text of a context entry.
func ContextText(key string, value json.RawMessage) string {
	return key + "\n" + flattenJSON(value)
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
