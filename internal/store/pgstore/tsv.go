package pgstore

import (
	"strings"
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

// vector returns text's terms as a tsvector and how many terms text has
// (its length for BM25).
func vector(text string) (pgtype.TSVector, int) {
	terms := store.Analyze(text)
	counts := make(map[string]int, min(len(terms), 64)) // distinct terms: fewer
	order := make([]string, 0, len(terms))
	for _, t := range terms {
		t = lexeme(t)
		if counts[t] == 0 {
			order = append(order, t)
		}
		counts[t]++
	}
	v := pgtype.TSVector{Valid: true, Lexemes: make([]pgtype.TSVectorLexeme, 0, len(order))}
	// One array holds every lexeme's positions 1..n: a record is written
	// once, so what it allocates is what it costs.
	positions := make([]pgtype.TSVectorPosition, 0, len(terms))
	size := 0
	for _, t := range order {
		if size += len(t); size > maxLexemes {
			break
		}
		n := min(counts[t], maxCount)
		from := len(positions)
		for i := range n {
			positions = append(positions, pgtype.TSVectorPosition{Position: uint16(i + 1)})
		}
		v.Lexemes = append(v.Lexemes, pgtype.TSVectorLexeme{Word: t, Positions: positions[from:len(positions):len(positions)]})
	}
	return v, len(terms)
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
