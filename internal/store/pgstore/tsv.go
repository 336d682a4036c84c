package pgstore

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// A record's search terms are those store.Analyze finds (the analysis the
// Pebble store uses), kept in a tsvector: each distinct term once, with
// positions 1..n standing for its n occurrences, since BM25 needs term
// counts and no search here needs positions. PostgreSQL bounds a tsvector,
// and the store keeps within the bounds rather than refuse a record the
// Pebble store takes:
//
//   - a term is cut to maxLexeme bytes (at a character boundary), in
//     records and queries alike, so it still finds itself;
//   - a term's count is capped at maxCount positions, which changes BM25
//     only in the third decimal for terms that occur hundreds of times;
//   - a record's distinct terms together stay under maxLexemes bytes;
//     terms beyond that, in a record of about a megabyte of unique words,
//     are not indexed.
const (
	maxLexeme  = 2046
	maxCount   = 256
	maxLexemes = 1<<20 - 1
)

// vectorScratch is what vector counts in, kept between records in
// scratches: a record is analysed on every write, and its counting maps
// and slices would otherwise be most of what a write allocates.
type vectorScratch struct {
	counts map[string]int
	order  []string
}

// maxScratchTerms is the most distinct terms a pooled scratch keeps room
// for; one grown larger by a huge record is dropped, not pooled.
const maxScratchTerms = 1 << 12

var scratches = sync.Pool{New: func() any { return &vectorScratch{counts: map[string]int{}} }}

// vector returns text's terms as a tsvector and how many terms text has
// (its length for BM25).
func vector(text string) (pgtype.TSVector, int) {
	sc := scratches.Get().(*vectorScratch)
	defer func() {
		if len(sc.order) <= maxScratchTerms {
			clear(sc.counts)
			sc.order = sc.order[:0]
			scratches.Put(sc)
		}
	}()
	terms := 0
	store.ForEachTerm(text, func(t string) {
		terms++
		t = lexeme(t)
		if sc.counts[t] == 0 {
			sc.order = append(sc.order, t)
		}
		sc.counts[t]++
	})
	v := pgtype.TSVector{Valid: true, Lexemes: make([]pgtype.TSVectorLexeme, 0, len(sc.order))}
	// One array holds every lexeme's positions 1..n: a record is written
	// once, so what it allocates is what it costs.
	positions := make([]pgtype.TSVectorPosition, 0, min(terms, len(sc.order)*maxCount))
	size := 0
	for _, t := range sc.order {
		if size += len(t); size > maxLexemes {
			break
		}
		n := min(sc.counts[t], maxCount)
		from := len(positions)
		for i := range n {
			positions = append(positions, pgtype.TSVectorPosition{Position: uint16(i + 1)})
		}
		v.Lexemes = append(v.Lexemes, pgtype.TSVectorLexeme{Word: t, Positions: positions[from:len(positions):len(positions)]})
	}
	return v, terms
}

// lexeme is a term as the tsvector keeps it.
func lexeme(t string) string {
	if len(t) <= maxLexeme {
		return t
	}
	cut := maxLexeme
	for cut > 0 && !utf8.RuneStart(t[cut]) {
		cut--
	}
	return t[:cut]
}

// tsquery is the text of a tsquery matching any of terms.
func tsquery(terms []string) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteByte('\'')
		for _, r := range lexeme(t) {
			switch r {
			case '\'':
				b.WriteString("''")
			case '\\':
				b.WriteString(`\\`)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('\'')
	}
	return b.String()
}

// queryTerms are the query's terms as the tsvectors keep them, each once.
func queryTerms(terms []string) []string {
	out := make([]string, 0, len(terms))
	seen := map[string]bool{}
	for _, t := range terms {
		t = lexeme(t)
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
