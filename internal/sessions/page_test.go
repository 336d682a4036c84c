package sessions

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// page walks the index from the cursor, skips names that are gone or do
// not match, fills at most a page and says whether more follow.
func TestPage(t *testing.T) {
	idx := newNameIndex()
	for i := range 300 {
		idx.add("ns", fmt.Sprintf("s-%03d", i))
	}
	idx.add("other", "s-000")
	idx.remove("ns", "s-005")
	gone := map[string]bool{"s-007": true}
	get := func(name string) (Session, bool, error) {
		return Session{Namespace: "ns", Name: name}, !gone[name], nil
	}
	names := func(ss []Session) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return out
	}
	got, more, err := page(idx, PageRequest{Namespace: "ns", Limit: 5}, get)
	if want := []string{"s-000", "s-001", "s-002", "s-003", "s-004"}; err != nil || !more || !slices.Equal(names(got), want) {
		t.Fatalf("first page = %v, more %v, %v; want %v and more", names(got), more, err, want)
	}
	got, more, _ = page(idx, PageRequest{Namespace: "ns", After: "s-004", Limit: 3}, get)
	if want := []string{"s-006", "s-008", "s-009"}; !more || !slices.Equal(names(got), want) {
		t.Errorf("second page = %v (more %v), want %v: s-005 removed, s-007 gone", names(got), more, want)
	}
	// A filter that matches one name in a hundred reads the index in
	// batches and still finds every match.
	odd := func(s Session) bool { return s.Name[len(s.Name)-2:] == "50" }
	got, more, _ = page(idx, PageRequest{Namespace: "ns", Limit: 10, Match: odd}, get)
	if want := []string{"s-050", "s-150", "s-250"}; more || !slices.Equal(names(got), want) {
		t.Errorf("filtered page = %v (more %v), want %v and no more", names(got), more, want)
	}
	// The last page says no more; an unbounded one holds everything.
	got, more, _ = page(idx, PageRequest{Namespace: "ns", After: "s-297", Limit: 5}, get)
	if want := []string{"s-298", "s-299"}; more || !slices.Equal(names(got), want) {
		t.Errorf("last page = %v (more %v), want %v and no more", names(got), more, want)
	}
	if got, more, _ = page(idx, PageRequest{Namespace: "ns", Limit: math.MaxInt32}, get); more || len(got) != 298 {
		t.Errorf("unbounded page: %d sessions (more %v), want 298", len(got), more)
	}
	if got, _, _ := page(idx, PageRequest{Namespace: "none", Limit: 5}, get); len(got) != 0 {
		t.Errorf("an empty namespace gave %v", names(got))
	}
}
