package mcpserver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

func createSessions(t *testing.T, ns string, names ...string) {
	t.Helper()
	for _, name := range names {
		if err := k8s.Create(context.Background(), &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompletions: a caller who may list sessions in one namespace only is
// offered that namespace and its sessions' names, never another
// namespace's, for the prompt's and the resource template's arguments.
func TestCompletions(t *testing.T) {
	ensureClusterRoles(t)
	mine, other := newNamespace(t), newNamespace(t)
	token := serviceAccountToken(t, mine, "reader", "mcpsession-viewer")
	createSessions(t, mine, "alpha-1", "alpha-2", "beta")
	createSessions(t, other, "alpha-secret")
	_, url := startServer(t, kubeAuthOptions(t))
	cs := connect(t, url, clientOpts{token: token})
	if cs.InitializeResult() == nil || cs.InitializeResult().Capabilities.Completions == nil {
		t.Fatalf("completions capability not advertised: %+v", cs.InitializeResult())
	}
	prompt := &mcp.CompleteReference{Type: "ref/prompt", Name: "resume_briefing"}
	template := &mcp.CompleteReference{Type: "ref/resource", URI: "mcpsession://{namespace}/{name}"}
	complete := func(ref *mcp.CompleteReference, arg, value string, context map[string]string) []string {
		t.Helper()
		p := &mcp.CompleteParams{Ref: ref, Argument: mcp.CompleteParamsArgument{Name: arg, Value: value}}
		if context != nil {
			p.Context = &mcp.CompleteContext{Arguments: context}
		}
		res, err := cs.Complete(t.Context(), p)
		if err != nil {
			t.Fatalf("complete %s %s=%q: %v", ref.Type, arg, value, err)
		}
		if res.Completion.Total != len(res.Completion.Values) || res.Completion.HasMore {
			t.Errorf("complete %s=%q: total %d, hasMore %v for %d values", arg, value, res.Completion.Total, res.Completion.HasMore, len(res.Completion.Values))
		}
		return res.Completion.Values
	}
	for _, c := range []struct {
		name     string
		ref      *mcp.CompleteReference
		arg, val string
		context  map[string]string
		want     []string
	}{
		{"prompt session_id, default namespace", prompt, "session_id", "al", nil, []string{"alpha-1", "alpha-2"}},
		{"prompt session_id, all", prompt, "session_id", "", nil, []string{"alpha-1", "alpha-2", "beta"}},
		{"prompt session_id, the other namespace", prompt, "session_id", "al", map[string]string{"namespace": other}, nil},
		{"prompt namespace", prompt, "namespace", "", nil, []string{mine}},
		{"template namespace", template, "namespace", "mcp-", nil, []string{mine}},
		{"template name in mine", template, "name", "b", map[string]string{"namespace": mine}, []string{"beta"}},
		{"template name in the other", template, "name", "", map[string]string{"namespace": other}, nil},
		{"template name, bad namespace", template, "name", "", map[string]string{"namespace": "Not_A_Namespace"}, nil},
		{"an argument that names no session", prompt, "unknown", "", nil, nil},
	} {
		got := complete(c.ref, c.arg, c.val, c.context)
		if !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if slices.ContainsFunc(got, func(v string) bool { return v == other || strings.Contains(v, "secret") }) {
			t.Errorf("%s: offered what the caller may not list: %q", c.name, got)
		}
	}
	_, err := cs.Complete(t.Context(), &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/prompt", Name: "no_such_prompt"}, Argument: mcp.CompleteParamsArgument{Name: "x"}})
	if code := testenv.RPCCode(err); code != jsonrpc.CodeInvalidParams {
		t.Errorf("unknown prompt: %v (code %d), want -32602", err, code)
	}
}

// TestRefusedReadsAndPrompts: a resources/read or prompts/get the caller
// may not make answers with invalid params (-32602), and the same whether
// the session exists or not; an unknown session of a namespace it may
// read is "not found", also -32602.
func TestRefusedReadsAndPrompts(t *testing.T) {
	ensureClusterRoles(t)
	mine, other := newNamespace(t), newNamespace(t)
	token := serviceAccountToken(t, mine, "reader", "mcpsession-viewer")
	createSessions(t, other, "exists")
	_, url := startServer(t, kubeAuthOptions(t))
	cs := connect(t, url, clientOpts{token: token})

	read := func(ns, name string) error {
		_, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: fmt.Sprintf("mcpsession://%s/%s", ns, name)})
		return err
	}
	get := func(ns, name string) error {
		_, err := cs.GetPrompt(t.Context(), &mcp.GetPromptParams{Name: "resume_briefing", Arguments: map[string]string{"session_id": name, "namespace": ns}})
		return err
	}
	for what, call := range map[string]func(ns, name string) error{"resources/read": read, "prompts/get": get} {
		existing, missing := call(other, "exists"), call(other, "missing")
		if testenv.RPCCode(existing) != jsonrpc.CodeInvalidParams || !strings.Contains(existing.Error(), "forbidden") {
			t.Errorf("%s of a forbidden session: %v (code %d)", what, existing, testenv.RPCCode(existing))
		}
		if strings.ReplaceAll(existing.Error(), "exists", "X") != strings.ReplaceAll(missing.Error(), "missing", "X") || testenv.RPCCode(missing) != testenv.RPCCode(existing) {
			t.Errorf("%s tells a forbidden session that exists from one that does not:\n  %v\n  %v", what, existing, missing)
		}
		if err := call(mine, "missing"); testenv.RPCCode(err) != jsonrpc.CodeInvalidParams || !strings.Contains(strings.ToLower(err.Error()), "not found") {
			t.Errorf("%s of an unknown session the caller may read: %v (code %d)", what, err, testenv.RPCCode(err))
		}
	}
}

// TestCacheScopes: lists that depend on the caller are private, the
// others public; never empty (the 2026-07-28 schema allows only these).
func TestCacheScopes(t *testing.T) {
	ns := newNamespace(t)
	_, url := startServer(t, Options{})
	cs := connect(t, url, clientOpts{})
	ok[SessionResult](t, cs, "create_session", map[string]any{"session_id": "cached", "namespace": ns})
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil || tools.CacheScope != "public" {
		t.Fatalf("tools/list: %q, %v", tools.CacheScope, err)
	}
	prompts, err := cs.ListPrompts(t.Context(), nil)
	if err != nil || prompts.CacheScope != "public" {
		t.Fatalf("prompts/list: %q, %v", prompts.CacheScope, err)
	}
	templates, err := cs.ListResourceTemplates(t.Context(), nil)
	if err != nil || templates.CacheScope != "public" {
		t.Fatalf("resources/templates/list: %q, %v", templates.CacheScope, err)
	}
	resources, err := cs.ListResources(t.Context(), nil)
	if err != nil || resources.CacheScope != "private" {
		t.Fatalf("resources/list: %q, %v", resources.CacheScope, err)
	}
	doc, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: "mcpsession://" + ns + "/cached"})
	if err != nil || doc.CacheScope != "private" {
		t.Fatalf("resources/read: %q, %v", doc.CacheScope, err)
	}
}
