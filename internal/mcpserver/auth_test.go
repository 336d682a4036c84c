package mcpserver

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

var clusterRolesOnce sync.Once

// ensureClusterRoles creates the ClusterRoles the project ships
// (config/rbac/aggregated), exactly as written there.
func ensureClusterRoles(t testing.TB) {
	t.Helper()
	testenv.Require(t)
	clusterRolesOnce.Do(func() {
		for _, f := range []string{"mcpsession_editor_role.yaml", "mcpsession_viewer_role.yaml"} {
			raw, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "aggregated", f))
			if err != nil {
				t.Fatal(err)
			}
			cr := &rbacv1.ClusterRole{}
			if err := yaml.Unmarshal(raw, cr); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if err := k8s.Create(context.Background(), cr); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("create ClusterRole %s: %v", cr.Name, err)
			}
		}
	})
}

// serviceAccountToken creates a service account in ns bound to clusterRole
// there (none: no binding) and returns a token for the MCP audience from
// the TokenRequest API.
func serviceAccountToken(t testing.TB, ns, name, clusterRole string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := k8s.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if clusterRole != "" {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-" + clusterRole},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: clusterRole},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: name}},
		}
		if err := k8s.Create(ctx, rb); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: []string{DefaultAudience}, ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, name, err)
	}
	return tr.Status.Token
}

// kubeAuthOptions are the production auth settings: TokenReview and
// SubjectAccessReview against the apiserver (the delegating authenticator
// and authorizer, as the manager builds them).
func kubeAuthOptions(tb testing.TB) Options {
	return newAuthEnv(tb, 0).opts
}

// authEnv is kubeAuthOptions whose reviews go through a proxy the test can
// take down (the apiserver going away, for the authenticator only) and a
// transport that counts TokenReviews, holding each one for delay.
type authEnv struct {
	opts         Options
	proxy        *testenv.Proxy
	tokenReviews *atomic.Int64
}

func newAuthEnv(tb testing.TB, delay time.Duration) authEnv {
	tb.Helper()
	testenv.Require(tb)
	host, err := url.Parse(cfg.Host)
	if err != nil {
		tb.Fatal(err)
	}
	proxy, err := testenv.NewProxy(host.Host)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(proxy.Close)
	c := rest.CopyConfig(cfg)
	c.Host = "https://" + proxy.Addr()
	env := authEnv{proxy: proxy, tokenReviews: &atomic.Int64{}}
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Path, "/tokenreviews") {
				env.tokenReviews.Add(1)
				time.Sleep(delay)
			}
			return rt.RoundTrip(r)
		})
	})
	// No retries: a review that fails, fails at once.
	authn, authz, err := auth.New(c, auth.Options{Audiences: []string{DefaultAudience}, RetryBackoff: &wait.Backoff{Steps: 1}})
	if err != nil {
		tb.Fatal(err)
	}
	env.opts = Options{AuthMode: AuthKubernetes, Authenticator: authn, Authorizer: authz}
	return env
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAuthWithServiceAccountsAndRBAC(t *testing.T) {
	ensureClusterRoles(t)
	nsA, nsB := newNamespace(t), newNamespace(t)
	editor := serviceAccountToken(t, nsA, "agent", "mcpsession-editor")
	viewer := serviceAccountToken(t, nsA, "auditor", "mcpsession-viewer")
	stranger := serviceAccountToken(t, nsA, "stranger", "")
	_, url := startServer(t, kubeAuthOptions(t))

	// A session in namespace B the editor of A must not see.
	secret := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: nsB, Name: "team-b-secret"}, Spec: v1alpha1.McpSessionSpec{Project: "B only"}}
	if err := k8s.Create(context.Background(), secret); err != nil {
		t.Fatal(err)
	}

	ed := connect(t, url, clientOpts{token: editor})
	// No namespace: the service account's own.
	created := ok[SessionResult](t, ed, "create_session", map[string]any{"session_id": "work", "project": "A"})
	if created.Namespace != nsA || created.Owner != "system:serviceaccount:"+nsA+":agent" {
		t.Fatalf("editor's session = %+v", created)
	}
	if got := session(t, nsA, "work").Spec.Owner; got != "system:serviceaccount:"+nsA+":agent" {
		t.Fatalf("spec.owner = %q", got)
	}
	ok[AddContextResult](t, ed, "add_context", map[string]any{"session_id": "work", "key": "k", "value": "v"})
	ok[AddMessageResult](t, ed, "add_message", map[string]any{"session_id": "work", "role": "user", "content": "hello"})
	// Namespace B: an authorisation error, and no data.
	for _, c := range []struct {
		tool string
		args map[string]any
		verb string
	}{
		{"get_session", map[string]any{"session_id": "team-b-secret", "namespace": nsB}, "get"},
		{"get_context", map[string]any{"session_id": "team-b-secret", "namespace": nsB}, "get"},
		{"export_session", map[string]any{"session_id": "team-b-secret", "namespace": nsB}, "get"},
		{"add_message", map[string]any{"session_id": "team-b-secret", "namespace": nsB, "role": "user", "content": "x"}, "update"},
		{"list_sessions", map[string]any{"namespace": nsB}, "list"},
		{"search", map[string]any{"namespace": nsB, "query": "secret"}, "list"},
		{"create_session", map[string]any{"session_id": "intruder", "namespace": nsB}, "create"},
	} {
		msg := fails(t, ed, c.tool, c.args, "forbidden", "cannot "+c.verb, `namespace "`+nsB+`"`)
		if strings.Contains(msg, "B only") {
			t.Errorf("%s leaked data: %s", c.tool, msg)
		}
	}
	// A missing session in B reads the same as an existing one.
	fails(t, ed, "get_session", map[string]any{"session_id": "does-not-exist", "namespace": nsB}, "forbidden")

	// resources/list: the caller's sessions, from its default namespace.
	res, err := ed.ListResources(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Resources) != 1 || res.Resources[0].URI != "mcpsession://"+nsA+"/work" {
		t.Fatalf("resources/list for the editor = %+v", res.Resources)
	}
	if _, err := ed.ReadResource(context.Background(), &mcpReadParams{URI: "mcpsession://" + nsB + "/team-b-secret"}); err == nil {
		t.Fatal("editor of A read a resource in B")
	}

	vw := connect(t, url, clientOpts{token: viewer})
	if v := ok[SessionView](t, vw, "get_session", map[string]any{"session_id": "work"}); v.Counts.Messages != 1 {
		t.Fatalf("viewer get_session = %+v", v)
	}
	ok[GetHistoryResult](t, vw, "get_history", map[string]any{"session_id": "work"})
	fails(t, vw, "add_context", map[string]any{"session_id": "work", "key": "k2", "value": 1}, "forbidden", "cannot update")
	fails(t, vw, "suspend_session", map[string]any{"session_id": "work"}, "forbidden", "cannot update")
	fails(t, vw, "create_session", map[string]any{"session_id": "mine"}, "forbidden", "cannot create")
	fails(t, vw, "delete_session", map[string]any{"session_id": "work"}, "forbidden", "cannot delete")

	// Authenticated but without any role: nothing.
	st := connect(t, url, clientOpts{token: stranger})
	fails(t, st, "get_session", map[string]any{"session_id": "work"}, "forbidden")
	if res, err := st.ListResources(context.Background(), nil); err != nil || len(res.Resources) != 0 {
		t.Fatalf("resources/list for a stranger = %+v, %v", res, err)
	}
}

func TestUnauthenticatedGets401(t *testing.T) {
	ns := newNamespace(t)
	// A valid token for the wrong audience is not accepted either.
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), mustSA(t, ns, "other"), &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: []string{"some-other-service"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, url := startServer(t, kubeAuthOptions(t))
	for name, header := range map[string]string{
		"no token":       "",
		"garbage token":  "Bearer not-a-token",
		"wrong scheme":   "Basic dXNlcjpwYXNz",
		"wrong audience": "Bearer " + tr.Status.Token,
	} {
		if code, chs := challenge(t, url, header); code != http.StatusUnauthorized || len(chs) != 1 || chs[0].Scheme != "bearer" || chs[0].Params["resource_metadata"] == "" {
			t.Errorf("%s: status %d, challenge %+v; want 401 with a Bearer challenge naming the metadata", name, code, chs)
		}
	}
	// The go-sdk client sees the refusal at connect time.
	c := mcpClient()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, streamable(url, "garbage"), nil); err == nil {
		t.Fatal("connect with a garbage token succeeded")
	}
}

func mustSA(t testing.TB, ns, name string) string {
	t.Helper()
	if err := k8s.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}); err != nil {
		t.Fatal(err)
	}
	return name
}
