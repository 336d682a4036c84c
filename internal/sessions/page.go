package sessions

import (
	"maps"
	"slices"
	"sync"

	"github.com/google/btree"
)

// nameIndex keeps the names of each namespace's sessions in order, so a
// page of a listing starts where the previous one ended: a page costs
// O(log n + page) whatever the size of the namespace, where listing the
// namespace and sorting it cost O(n log n) per page (about a second for
// 100,000 sessions). The Kubernetes registry keeps it from the informer's
// events, the local registry from its own writes.
type nameIndex struct {
	mu   sync.RWMutex
	byNS map[string]*btree.BTreeG[string]
}

func newNameIndex() *nameIndex {
	return &nameIndex{byNS: map[string]*btree.BTreeG[string]{}}
}

// add records a session name; adding one already there changes nothing.
func (x *nameIndex) add(namespace, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.byNS[namespace]
	if t == nil {
		t = btree.NewOrderedG[string](32)
		x.byNS[namespace] = t
	}
	t.ReplaceOrInsert(name)
}

// remove forgets a session name.
func (x *nameIndex) remove(namespace, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if t := x.byNS[namespace]; t != nil {
		t.Delete(name)
		if t.Len() == 0 {
			delete(x.byNS, namespace)
		}
	}
}

// after returns up to n names of the namespace that sort after the given
// one ("" for the first), in order.
func (x *nameIndex) after(namespace, after string, n int) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	t := x.byNS[namespace]
	if t == nil || n <= 0 {
		return nil
	}
	out := make([]string, 0, min(n, t.Len()))
	t.AscendGreaterOrEqual(after, func(name string) bool {
		if name == after {
			return true
		}
		out = append(out, name)
		return len(out) < n
	})
	return out
}

// namespaces returns the namespaces that hold sessions, sorted.
func (x *nameIndex) namespaces() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return slices.Sorted(maps.Keys(x.byNS))
}

// PageRequest asks for one page of a namespace's sessions in name order.
type PageRequest struct {
	Namespace string
	// After is the name the previous page ended with; "" starts at the
	// first session.
	After string
	// Limit is the most sessions the page holds (at least 1).
	Limit int
	// Match, when set, keeps only the sessions it accepts.
	Match func(Session) bool
}

// minBatch is the fewest names page reads from the index at once.
const minBatch = 64

// page fills one page from idx: the sessions (get turns a name into one;
// false skips a name that is gone or going) that sort after req.After and
// pass req.Match, at most req.Limit of them, and whether another matching
// session follows. Names are read from the index a batch at a time, so
// the index is not locked while sessions are looked up.
func page(idx *nameIndex, req PageRequest, get func(name string) (Session, bool, error)) ([]Session, bool, error) {
	limit := max(req.Limit, 1)
	out := make([]Session, 0, min(limit, 256))
	after := req.After
	for {
		// One past a full page tells whether more follow; a filter that
		// skips names is served in batches of at least minBatch.
		batch := max(limit+1-len(out), minBatch)
		names := idx.after(req.Namespace, after, batch)
		for _, name := range names {
			after = name
			s, ok, err := get(name)
			if err != nil {
				return nil, false, err
			}
			if !ok || (req.Match != nil && !req.Match(s)) {
				continue
			}
			if len(out) == limit {
				return out, true, nil
			}
			out = append(out, s)
		}
		if len(names) < batch {
			return out, false, nil
		}
	}
}
