package store

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Search terms are the words of a text as an analyzer sees them, so a query
// finds the inflected forms of its words:
//
//  1. a word is a run of letters, digits and combining marks ("v2.4.0"
//     gives "v2", "4", "0"; a decomposed "é" stays inside its word);
//  2. it is normalized to Unicode NFKC, so composed and decomposed accents,
//     ligatures and full-width letters compare equal;
//  3. it is case folded (Unicode full folding: "Fehler" is "fehler",
//     "Straße" is "strasse");
//  4. it is stemmed with the Snowball English stemmer (Porter2), so
//     "leaks", "leaking" and "leaked" are all "leak". Documents and queries
//     go through the same steps, so words of other languages still match
//     themselves exactly, and their plural -s is often folded too.
//
// Both backends use this analysis, so a query matches the same records in
// either. The Pebble store ranks at query time, so a change to the analysis
// applies at once to data written before it; the PostgreSQL store keeps the
// terms of every record in a tsvector, which a change to the analysis would
// have to rebuild (a migration).

// maxStemCache bounds the per-query memo of stems. Natural text repeats its
// words, so most tokens of a search hit the memo; the bound keeps a search
// over unusual text (hashes, ids) from holding every token it saw.
const maxStemCache = 1 << 16

// sharedStems memoises terms across analyzers, for the many short texts
// analysed one by one (every write's record on PostgreSQL): stemming is
// most of the cost of analysing a text, and a language's common words are
// few. It stops growing at maxSharedStems words, so a stream of unusual
// words (hashes, ids) cannot grow it without bound.
var (
	sharedStems    sync.Map // word -> term
	sharedStemsLen atomic.Int64
)

const maxSharedStems = 1 << 17

// maxPooledStems bounds the memo of an analyzer kept in analyzers between
// texts: enough for a language's common words, small enough that the few
// pooled analyzers (about one per processor) hold little.
const maxPooledStems = 1 << 12

// analyzers keeps analyzers with their memos between the short texts
// analysed one by one (every write's record on PostgreSQL): a hit in an
// analyzer's own map costs a fraction of one in sharedStems, whose
// interface keys are hashed the slow way.
var analyzers = sync.Pool{New: func() any {
	a := newAnalyzer()
	a.maxStems = maxPooledStems
	return a
}}

// analyzer turns text into search terms. It is not safe for concurrent use:
// each search has its own, and ForEachTerm takes one from analyzers.
type analyzer struct {
	fold     cases.Caser
	word     []byte
	stems    map[string]string
	maxStems int
}

func newAnalyzer() *analyzer {
	return &analyzer{fold: cases.Fold(), stems: map[string]string{}, maxStems: maxStemCache}
}

// isWordRune reports whether r belongs to a word.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		// The same answer for ASCII without the tables' searches: most
		// text is ASCII, and this runs for every character written.
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r)
}

// forEachTerm calls fn with the term of each word of text and the byte
// offset where the word starts (a string of the memos or a new one, never
// a slice of text). fn returns false to stop.
func (a *analyzer) forEachTerm(text string, fn func(term string, start int) bool) {
	start := -1
	for i, r := range text {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if !fn(a.term(text[start:i]), start) {
				return
			}
			start = -1
		}
	}
	if start >= 0 {
		fn(a.term(text[start:]), start)
	}
}

// term analyzes one word.
func (a *analyzer) term(word string) string {
	if t, ok := a.stems[word]; ok {
		return t
	}
	if t, ok := sharedStems.Load(word); ok {
		if len(a.stems) < a.maxStems {
			a.stems[strings.Clone(word)] = t.(string)
		}
		return t.(string)
	}
	a.word = a.word[:0]
	ascii := true
	for i := 0; i < len(word); i++ {
		if word[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	var folded string
	if ascii {
		// The common case needs neither normalization nor full folding.
		for i := 0; i < len(word); i++ {
			c := word[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			a.word = append(a.word, c)
		}
		folded = string(a.word)
	} else {
		folded = a.fold.String(norm.NFKC.String(word))
	}
	t := english.Stem(folded, true)
	// Copies: word is a slice of a text the caches must not keep alive.
	word = strings.Clone(word)
	if len(a.stems) < a.maxStems {
		a.stems[word] = t
	}
	if sharedStemsLen.Load() < maxSharedStems {
		if _, loaded := sharedStems.LoadOrStore(word, t); !loaded {
			sharedStemsLen.Add(1)
		}
	}
	return t
}

// Analyze returns the terms of text in order: what a record or a query is
// made of for search.
func Analyze(text string) []string {
	a := analyzers.Get().(*analyzer)
	defer analyzers.Put(a)
	return a.terms(text)
}

// ForEachTerm calls fn with each term of text in order, as Analyze returns
// them, without building the slice. A term is an immutable string that fn
// may keep.
func ForEachTerm(text string, fn func(term string)) {
	a := analyzers.Get().(*analyzer)
	defer analyzers.Put(a)
	a.forEachTerm(text, func(term string, _ int) bool {
		fn(term)
		return true
	})
}

// terms returns the terms of text in order.
func (a *analyzer) terms(text string) []string {
	// Room for the words of prose (about six bytes a word with its
	// space), so a record's terms are not copied as the slice grows.
	out := make([]string, 0, len(text)/6+1)
	a.forEachTerm(text, func(term string, _ int) bool {
		out = append(out, term)
		return true
	})
	if len(out) == 0 {
		return nil
	}
	return out
}
