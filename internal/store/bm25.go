package store

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// BM25 parameters: the usual defaults (Robertson; Lucene uses the same).
const (
	BM25K1 = 1.2
	BM25B  = 0.75
)

// Corpus accumulates the statistics BM25 needs for one query over a set of
// documents: document count, total length, and document frequency of each
// query term. Only query terms are counted, so memory does not grow with the
// vocabulary of the sessions searched.
type Corpus struct {
	an       *analyzer
	terms    []string
	index    map[string]int
	df       []int
	docs     int
	totalLen int64
	scratch  []int32
}

// NewCorpus prepares counting for the distinct terms of query (see
// analyzer for what a term is).
func NewCorpus(query string) *Corpus {
	c := &Corpus{an: newAnalyzer(), index: map[string]int{}}
	for _, t := range c.an.terms(query) {
		if _, ok := c.index[t]; !ok {
			c.index[t] = len(c.terms)
			c.terms = append(c.terms, t)
		}
	}
	c.df = make([]int, len(c.terms))
	c.scratch = make([]int32, len(c.terms))
	return c
}

// Terms are the query's distinct terms, in the order they first occur.
func (c *Corpus) Terms() []string { return c.terms }

// Add counts one document. It returns the frequencies of the query terms
// and the document's length in tokens; tf is nil when no term occurs, so
// non-matching documents cost nothing to keep.
func (c *Corpus) Add(text string) (tf []int32, length int) {
	clear(c.scratch)
	matched := false
	c.an.forEachTerm(text, func(term string, _ int) bool {
		length++
		if i, ok := c.index[term]; ok {
			c.scratch[i]++
			matched = true
		}
		return true
	})
	c.docs++
	c.totalLen += int64(length)
	if !matched {
		return nil, length
	}
	tf = append([]int32(nil), c.scratch...)
	for i, n := range tf {
		if n > 0 {
			c.df[i]++
		}
	}
	return tf, length
}

// idf is the BM25 inverse document frequency in the non-negative form
// Lucene uses, so a term present in most documents still adds a little.
func (c *Corpus) idf(i int) float64 {
	n, df := float64(c.docs), float64(c.df[i])
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

// Score is the BM25 score of a document added earlier; call it after all
// documents have been added, because it depends on corpus-wide statistics.
func (c *Corpus) Score(tf []int32, length int) float64 {
	if c.docs == 0 {
		return 0
	}
	avg := float64(c.totalLen) / float64(c.docs)
	if avg == 0 {
		avg = 1
	}
	norm := BM25K1 * (1 - BM25B + BM25B*float64(length)/avg)
	var s float64
	for i, n := range tf {
		if n == 0 {
			continue
		}
		f := float64(n)
		s += c.idf(i) * f * (BM25K1 + 1) / (f + norm)
	}
	return s
}

// SnippetRunes is the approximate snippet length in characters.
const SnippetRunes = 160

// Snippet returns about SnippetRunes characters of text around the first
// word whose term is a query term, whitespace collapsed, with "…" where text was
// cut. The match sits about a third of the way in, so the reader sees some
// lead-in.
func (c *Corpus) Snippet(text string) string {
	match := 0
	c.an.forEachTerm(text, func(term string, start int) bool {
		if _, ok := c.index[term]; ok {
			match = start
			return false
		}
		return true
	})
	start := match
	for n := 0; n < SnippetRunes/3 && start > 0; n++ {
		_, size := utf8.DecodeLastRuneInString(text[:start])
		start -= size
	}
	// Begin at a word boundary when one is close, rather than mid-word.
	if start > 0 {
		if sp := strings.IndexFunc(text[start:match], unicode.IsSpace); sp >= 0 {
			start += sp
		}
	}
	end := start
	for n := 0; n < SnippetRunes && end < len(text); n++ {
		_, size := utf8.DecodeRuneInString(text[end:])
		end += size
	}
	out := strings.Join(strings.Fields(text[start:end]), " ")
	if start > 0 {
		out = "…" + out
	}
	if end < len(text) {
		out += "…"
	}
	return out
}
