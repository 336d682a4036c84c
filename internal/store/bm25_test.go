package store

import (
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAnalyzerTerms(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Memory LEAK", []string{"memori", "leak"}},
		{"v2.4.0 deployed!", []string{"v2", "4", "0", "deploy"}},
		{"CacheManager's self.cache", []string{"cachemanag", "s", "self", "cach"}},
		{"user_analytics_*: 15MB", []string{"user", "analyt", "15mb"}},
		// Inflected forms meet on one stem.
		{"leak leaks leaking leaked", []string{"leak", "leak", "leak", "leak"}},
		{"caching cached caches", []string{"cach", "cach", "cach"}},
		// Case folding, not just lower-casing: ß folds to ss.
		{"Fehler FEHLER fehler", []string{"fehler", "fehler", "fehler"}},
		{"Straße STRASSE", []string{"strass", "strass"}},
		// NFKC: a decomposed accent stays in its word and composes; a
		// ligature and full-width letters become plain letters.
		{"cafe\u0301 café", []string{"café", "café"}},
		{"\ufb01le ｆｉｌｅ", []string{"file", "file"}},
		{"日本語 テスト", []string{"日本語", "テスト"}},
		{"  --  ", nil},
	}
	for _, tt := range tests {
		if got := newAnalyzer().terms(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("terms(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// The pooled analyzers, cold and then with the words memoised,
		// give the same terms.
		for range 2 {
			if got := Analyze(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Analyze(%q) = %q, want %q", tt.in, got, tt.want)
			}
			var each []string
			ForEachTerm(tt.in, func(term string) { each = append(each, term) })
			if !reflect.DeepEqual(each, tt.want) {
				t.Errorf("ForEachTerm(%q) gave %q, want %q", tt.in, each, tt.want)
			}
		}
	}
}

// A pooled analyzer memoises the words it meets, those found in the
// shared memo too, up to its bound.
func TestPooledAnalyzerMemo(t *testing.T) {
	a := analyzers.New().(*analyzer)
	sharedStems.Store("zebras", "zebra")
	if got := a.terms("zebras"); !reflect.DeepEqual(got, []string{"zebra"}) {
		t.Fatalf("terms = %q", got)
	}
	if a.stems["zebras"] != "zebra" {
		t.Errorf("a word found in the shared memo is not memoised: %v", a.stems)
	}
	var b strings.Builder
	for i := range 2 * maxPooledStems {
		b.WriteString("w")
		b.WriteString(strings.Repeat("q", i%7))
		b.WriteByte(byte('a' + i%26))
		b.WriteByte(byte('a' + i/26%26))
		b.WriteByte(byte('a' + i/676%26))
		b.WriteByte(' ')
	}
	a.terms(b.String())
	if len(a.stems) != maxPooledStems {
		t.Errorf("a pooled analyzer memoised %d words, want its bound %d", len(a.stems), maxPooledStems)
	}
}

// rank scores docs for query and returns their indexes best first.
func rank(query string, docs []string) ([]int, []float64) {
	c := NewCorpus(query)
	tfs := make([][]int32, len(docs))
	lens := make([]int, len(docs))
	for i, d := range docs {
		tfs[i], lens[i] = c.Add(d)
	}
	scores := make([]float64, len(docs))
	var idx []int
	for i := range docs {
		if tfs[i] != nil {
			scores[i] = c.Score(tfs[i], lens[i])
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	return idx, scores
}

func TestBM25RankingOrder(t *testing.T) {
	tests := []struct {
		name  string
		query string
		docs  []string
		want  []int
	}{
		{
			name:  "more occurrences rank higher",
			query: "cache",
			docs:  []string{"cache miss on the cache layer cache", "cache once in a line of similar length", "no match here at all today"},
			want:  []int{0, 1},
		},
		{
			name:  "shorter document ranks higher at equal frequency",
			query: "eviction",
			docs: []string{
				"eviction policy missing",
				"eviction policy missing and a lot of other words that dilute the term in this long description",
			},
			want: []int{0, 1},
		},
		{
			name:  "rare term outweighs common term",
			query: "webhook memory",
			docs: []string{
				"memory memory grows",
				"webhook queue grows",
				"memory usage stable",
				"memory profile taken",
			},
			want: []int{1, 0, 2, 3},
		},
		{
			name:  "matching both terms beats one",
			query: "analytics cached",
			docs:  []string{"analytics objects are cached forever", "analytics dashboard", "cached reports"},
			want:  []int{0, 1, 2},
		},
		{
			name:  "case and punctuation do not matter",
			query: "MEMORY-leak",
			docs:  []string{"unrelated text", "Memory. Leak!"},
			want:  []int{1},
		},
	}
	for _, tt := range tests {
		got, _ := rank(tt.query, tt.docs)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: order %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBM25Score(t *testing.T) {
	// Two documents, one term in one of them: N=2, df=1, avgdl=2, dl=2, tf=1.
	c := NewCorpus("leak")
	tf, n := c.Add("memory leak")
	c.Add("other words")
	idf := math.Log(1 + (2-1+0.5)/(1+0.5))
	want := idf * 1 * (BM25K1 + 1) / (1 + BM25K1*(1-BM25B+BM25B*2.0/2.0))
	if got := c.Score(tf, n); math.Abs(got-want) > 1e-12 {
		t.Fatalf("score = %v, want %v", got, want)
	}
	if tf, _ := c.Add("nothing relevant"); tf != nil {
		t.Fatalf("non-matching document returned tf %v", tf)
	}
}

func TestSnippet(t *testing.T) {
	long := strings.Repeat("filler words before the match ", 20) + "the EVICTION policy is missing " + strings.Repeat("and more trailing words ", 20)
	c := NewCorpus("eviction")
	s := c.Snippet(long)
	if !strings.Contains(s, "EVICTION policy") {
		t.Fatalf("snippet %q lacks the match", s)
	}
	if !strings.HasPrefix(s, "…") || !strings.HasSuffix(s, "…") {
		t.Fatalf("snippet %q not marked as cut on both sides", s)
	}
	if n := utf8.RuneCountInString(s); n > SnippetRunes+2 || n < SnippetRunes/2 {
		t.Fatalf("snippet has %d runes: %q", n, s)
	}
	short := "Cache has\n\tno   eviction"
	if got := c.Snippet(short); got != "Cache has no eviction" {
		t.Fatalf("short snippet = %q", got)
	}
	// Multibyte text is cut on rune boundaries.
	multi := strings.Repeat("ü", 300) + " eviction " + strings.Repeat("ß", 300)
	if s := c.Snippet(multi); !utf8.ValidString(s) || !strings.Contains(s, "eviction") {
		t.Fatalf("multibyte snippet invalid: %q", s)
	}
}
