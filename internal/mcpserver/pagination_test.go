package mcpserver

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// A walk through list_sessions or resources/list with the cursor returns
// every session that exists throughout exactly once, in name order, while
// sessions are created and deleted between pages: both registries, both
// listings.

// churn is a namespace whose sessions a test creates and deletes; both
// calls return once the server sees the change.
type churn struct {
	create, delete func(name string)
}

// lister returns one page: the session names and the next cursor.
type lister func(cursor string) ([]string, string)

func listSessionsPages(t *testing.T, cs *mcp.ClientSession, args map[string]any) lister {
	return func(cursor string) ([]string, string) {
		a := map[string]any{"limit": 40, "cursor": cursor}
		for k, v := range args {
			a[k] = v
		}
		res := ok[ListSessionsResult](t, cs, "list_sessions", a)
		var names []string
		for _, s := range res.Sessions {
			names = append(names, s.SessionID)
		}
		return names, res.NextCursor
	}
}

func resourcePages(t *testing.T, cs *mcp.ClientSession) lister {
	return func(cursor string) ([]string, string) {
		res, err := cs.ListResources(context.Background(), &mcp.ListResourcesParams{Cursor: cursor})
		if err != nil {
			t.Fatalf("resources/list: %v", err)
		}
		var names []string
		for _, r := range res.Resources {
			names = append(names, r.Name)
		}
		return names, res.NextCursor
	}
}

// walkWhileChurning creates 250 sessions (s-000 ...), then walks list
// page by page; between pages it deletes two sessions not reached yet and
// one already returned, and creates one that sorts after the cursor and
// one before it. It checks that no session comes twice, that names come in
// order, that every session that existed throughout came, that none came
// after it was deleted, and that those created after the cursor came.
func walkWhileChurning(t *testing.T, c churn, list lister) {
	t.Helper()
	const n = 250
	alive := map[string]bool{}
	for i := range n {
		name := fmt.Sprintf("s-%03d", i)
		c.create(name)
		alive[name] = true
	}
	deleted := map[string]bool{}
	var createdAhead []string
	seen := map[string]bool{}
	var order []string
	cursor, pages := "", 0
	for {
		names, next := list(cursor)
		pages++
		for _, name := range names {
			if seen[name] {
				t.Fatalf("page %d returned %s again", pages, name)
			}
			if deleted[name] {
				t.Errorf("page %d returned %s, deleted before the walk reached it", pages, name)
			}
			seen[name] = true
			order = append(order, name)
		}
		if next == "" {
			break
		}
		if len(names) == 0 {
			t.Fatalf("page %d is empty but has a next cursor", pages)
		}
		if pages > 3*n {
			t.Fatal("the walk does not end")
		}
		last := names[len(names)-1]
		// Two sessions not reached yet, one already returned.
		var ahead []string
		for name := range alive {
			if name > last && !slices.Contains(createdAhead, name) {
				ahead = append(ahead, name)
			}
		}
		slices.Sort(ahead)
		for _, name := range append(ahead[:min(2, len(ahead))], names[0]) {
			c.delete(name)
			delete(alive, name)
			if name > last {
				deleted[name] = true
			}
		}
		// One after the cursor (it must come), one before (it cannot).
		later, earlier := fmt.Sprintf("t-%03d", pages), fmt.Sprintf("a-%03d", pages)
		c.create(later)
		c.create(earlier)
		createdAhead = append(createdAhead, later)
		cursor = next
	}
	if !slices.IsSorted(order) {
		t.Errorf("the walk is not in name order: %v", order)
	}
	for name := range alive {
		if name[0] == 's' && !seen[name] {
			t.Errorf("%s existed throughout but the walk missed it", name)
		}
	}
	for _, name := range createdAhead {
		if alive[name] && !seen[name] {
			t.Errorf("%s was created after the cursor but the walk missed it", name)
		}
	}
	if pages < 3 {
		t.Errorf("the walk took %d pages; the test needs several", pages)
	}
}

// kubeChurn creates and deletes McpSessions with the apiserver client, as
// kubectl would, and waits until the server sees each change.
func kubeChurn(t *testing.T, cs *mcp.ClientSession, ns string) churn {
	ctx := context.Background()
	visible := func(name string, want bool) {
		testenv.Eventually(t, waitTimeout, "the server to see "+name, func() string {
			res := call(t, cs, "get_session", map[string]any{"session_id": name, "namespace": ns})
			if res.IsError == want {
				return fmt.Sprintf("get_session %s: %s", name, text(res))
			}
			return ""
		})
	}
	return churn{
		create: func(name string) {
			obj := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.McpSessionSpec{Project: "walk"}}
			if err := k8s.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
			visible(name, true)
		},
		delete: func(name string) {
			obj := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
			if err := k8s.Delete(ctx, obj); err != nil {
				t.Fatal(err)
			}
			visible(name, false)
		},
	}
}

func TestPaginationWhileSessionsComeAndGo(t *testing.T) {
	ensureClusterRoles(t)
	for _, listing := range []string{"list_sessions", "resources/list"} {
		t.Run("kubernetes/"+listing, func(t *testing.T) {
			ns := newNamespace(t)
			token := serviceAccountToken(t, ns, "agent", "mcpsession-editor")
			_, url := startServer(t, kubeAuthOptions(t))
			cs := connect(t, url, clientOpts{token: token})
			list := listSessionsPages(t, cs, map[string]any{"namespace": ns})
			if listing == "resources/list" {
				list = resourcePages(t, cs) // the service account's namespace
			}
			walkWhileChurning(t, kubeChurn(t, cs, ns), list)
		})
		t.Run("local/"+listing, func(t *testing.T) {
			clk := testingclock.NewFakeClock(time.Now())
			st, s := openLocal(t, t.TempDir(), clk)
			t.Cleanup(func() { _ = st.Close() })
			cs := stdioClient(t, s, "")
			list := listSessionsPages(t, cs, nil)
			if listing == "resources/list" {
				list = resourcePages(t, cs)
			}
			walkWhileChurning(t, churn{
				create: func(name string) { ok[SessionResult](t, cs, "create_session", map[string]any{"session_id": name}) },
				delete: func(name string) { ok[DeleteResult](t, cs, "delete_session", map[string]any{"session_id": name}) },
			}, list)
		})
	}
}
