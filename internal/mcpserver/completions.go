package mcpserver

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
)

// maxCompletions is the most values one completion/complete answer holds
// (the spec's limit); Total and HasMore tell the client there are more.
const maxCompletions = 100

// complete answers completion/complete for the arguments that name
// sessions: the resume_briefing prompt's session_id and namespace, and the
// session resource template's namespace and name. It offers only what the
// caller may list: namespaces in which it may list sessions, and names in
// such a namespace (the one given in the context's arguments, else the
// caller's default). Other arguments get no values.
func (s *Server) complete(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	const method = "completion/complete"
	p := req.Params
	var kind string // "namespace" or "name"
	switch {
	case p.Ref.Type == "ref/prompt" && p.Ref.Name == briefingPrompt:
		kind = map[string]string{"session_id": "name", "namespace": "namespace"}[p.Argument.Name]
	case p.Ref.Type == "ref/resource" && p.Ref.URI == sessionURITemplate:
		kind = map[string]string{"name": "name", "namespace": "namespace"}[p.Argument.Name]
	default:
		return nil, invalidParams("completion/complete: no prompt or resource template %q%s; this server completes the %s prompt and %s",
			p.Ref.Name, p.Ref.URI, briefingPrompt, sessionURITemplate)
	}
	var values []string
	if kind != "" {
		id, err := sessions.Caller(ctx)
		if err != nil {
			return nil, requestFailure(ctx, method, err, nil)
		}
		if kind == "namespace" {
			values, err = s.sessions.ListableNamespaces(ctx, id, p.Argument.Value)
		} else {
			var ns string
			if p.Context != nil {
				ns = p.Context.Arguments["namespace"]
			}
			if ns == "" {
				ns = s.sessions.DefaultNamespace(id)
			}
			if validNamespace(ns) == nil {
				values, err = s.sessions.ListableNames(ctx, id, ns, p.Argument.Value)
			}
		}
		if err != nil {
			return nil, requestFailure(ctx, method, err, nil)
		}
	}
	res := &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: values, Total: len(values)}}
	if values == nil {
		res.Completion.Values = []string{}
	}
	if len(values) > maxCompletions {
		res.Completion.Values, res.Completion.HasMore = values[:maxCompletions], true
	}
	return res, nil
}
