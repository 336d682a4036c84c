package mcpserver

import (
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
)

// briefingPrompt is the prompt's name.
const briefingPrompt = "resume_briefing"

func (s *Server) addPrompts() {
	s.mcp.AddPrompt(&mcp.Prompt{
		Name:  briefingPrompt,
		Title: "Continue a persistent session",
		Description: "What an assistant needs to continue a session: its purpose, phase, context keys, recent discoveries and last messages. " +
			"Reading it does not resume the session; call resume_session to write again.",
		Arguments: []*mcp.PromptArgument{
			{Name: "session_id", Description: "The session's name.", Required: true},
			{Name: "namespace", Description: "Its namespace; defaults to your service account's."},
		},
	}, s.resumeBriefing)
}

func (s *Server) resumeBriefing(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	args := req.Params.Arguments
	sess, err := s.open(ctx, auth.VerbGet, args["session_id"], args["namespace"])
	if err != nil {
		return nil, requestFailure(ctx, "prompts/get "+briefingPrompt, err, nil)
	}
	b, err := s.briefing(ctx, sess, sess.LastActivity)
	if err != nil {
		return nil, requestFailure(ctx, "prompts/get "+briefingPrompt, err, nil)
	}
	s.used(ctx, sess, false)
	return &mcp.GetPromptResult{
		Description: fmt.Sprintf("Briefing for session %s/%s", sess.Namespace, sess.Name),
		Messages: []*mcp.PromptMessage{{
			Role:    "user",
			Content: &mcp.TextContent{Text: renderBriefing(b)},
		}},
	}, nil
}
