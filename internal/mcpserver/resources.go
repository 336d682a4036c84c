package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
)

const (
	sessionURITemplate = "mcpsession://{namespace}/{name}"
	resourcePageSize   = 100
)

// subscriptions counts subscribers per resource URI, so a write only costs
// a notification when somebody listens.
type subscriptions struct {
	server *mcp.Server
	mu     sync.Mutex
	count  map[string]int
}

func newSubscriptions(server *mcp.Server) *subscriptions {
	return &subscriptions{server: server, count: map[string]int{}}
}

func (c *subscriptions) add(uri string, delta int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count[uri] += delta
	if c.count[uri] <= 0 {
		delete(c.count, uri)
	}
}

// changed notifies the subscribers of a session's resource, if any. Every
// write calls it, and most servers have no subscriber at all: that case
// costs a lock and no URI.
func (c *subscriptions) changed(ctx context.Context, namespace, name string) {
	c.mu.Lock()
	n := 0
	var uri string
	if len(c.count) > 0 {
		uri = sessionURI(namespace, name)
		n = c.count[uri]
	}
	c.mu.Unlock()
	if n > 0 {
		_ = c.server.ResourceUpdated(context.WithoutCancel(ctx), &mcp.ResourceUpdatedNotificationParams{URI: uri})
	}
}

// subscribe authorises a subscription (the caller must be able to get the
// session). Stateless HTTP only delivers notifications on the long-lived
// subscriptions/listen request of protocol 2026-07-28; a legacy
// resources/subscribe would be accepted on a connection that closes with
// its response and never hear anything, so it is refused with a reason.
func (s *Server) subscribe(ctx context.Context, req *mcp.SubscribeRequest) error {
	if req.Extra != nil && req.Extra.Header != nil { // over HTTP
		if p := req.Session.InitializeParams(); p == nil || p.ProtocolVersion < "2026-07-28" {
			return userErrorf("resources/subscribe needs protocol 2026-07-28 on this stateless server (notifications travel on subscriptions/listen); re-read the resource or call get_session to see changes")
		}
	}
	id, err := sessions.Caller(ctx)
	if err != nil {
		return err
	}
	ns, name, err := parseSessionURI(req.Params.URI)
	if err != nil {
		return err
	}
	if err := s.sessions.Authorize(ctx, id, auth.VerbGet, ns, name); err != nil {
		return err
	}
	s.subs.add(req.Params.URI, 1)
	return nil
}

func (s *Server) unsubscribe(_ context.Context, req *mcp.UnsubscribeRequest) error {
	s.subs.add(req.Params.URI, -1)
	return nil
}

func (s *Server) addResources() {
	s.mcp.AddResourceTemplate(&mcp.ResourceTemplate{
		Name:        "mcpsession",
		Title:       "Persistent session document",
		URITemplate: sessionURITemplate,
		MIMEType:    "application/json",
		Description: "A persistent session as one JSON document in the tutorial's format (id, created_at, state, project, " +
			"context {key: {value, added_at}}, discoveries [], conversation_history []), read from its namespace. " +
			s.durabilityDefaults(),
	}, s.readResource)
	s.mcp.AddReceivingMiddleware(s.listResourcesMiddleware)
}

// readResource returns the session document.
func (s *Server) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	ns, name, err := parseSessionURI(uri)
	if err != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	sess, err := s.open(ctx, auth.VerbGet, name, ns)
	if err != nil {
		if errors.Is(err, sessions.ErrNotFound) {
			return nil, mcp.ResourceNotFoundError(uri)
		}
		return nil, requestFailure(ctx, "resources/read", err, uriData(uri))
	}
	doc, err := s.document(ctx, sess)
	if err != nil {
		return nil, requestFailure(ctx, "resources/read", err, uriData(uri))
	}
	s.used(ctx, sess, false)
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
		URI: req.Params.URI, MIMEType: "application/json", Text: string(doc),
	}}}, nil
}

// uriData is the data member of a resources/read error: the URI asked
// for, as the go-sdk's ResourceNotFoundError carries it.
func uriData(uri string) json.RawMessage {
	data, _ := json.Marshal(map[string]string{"uri": uri})
	return data
}

// document exports a session with its lifecycle state filled in.
func (s *Server) document(ctx context.Context, sess sessions.Session) ([]byte, error) {
	doc, err := s.opts.Store.Export(ctx, sess.UID)
	if err != nil {
		return nil, err
	}
	doc.State = stateWord(sess.Phase)
	return json.Marshal(doc)
}

// stateWord is the tutorial's lower-case state name.
func stateWord(p v1alpha1.Phase) string {
	switch p {
	case v1alpha1.PhaseActive:
		return "active"
	case v1alpha1.PhaseSuspended:
		return "suspended"
	case v1alpha1.PhaseTerminated:
		return "terminated"
	}
	return ""
}

// privateResult is the cache hint of results that depend on the caller
// (resources/list, resources/read): only the caller's client may cache
// them, and they are stale at once. The others (the tool, prompt and
// template lists, the same for everyone) keep the go-sdk's default,
// public.
var privateResult = mcp.Cacheable{TTLMs: 0, CacheScope: "private"}

// setCacheable marks per-caller results private (mcp.ServerOptions).
func setCacheable(_ context.Context, req mcp.Request, c *mcp.Cacheable) {
	switch req.(type) {
	case *mcp.ReadResourceRequest, *mcp.ListResourcesRequest:
		*c = privateResult
	}
}

// listResourcesMiddleware answers resources/list with the caller's sessions:
// those of its default namespace, if it may list them. The go-sdk only
// lists resources registered up front, the same for every caller.
func (s *Server) listResourcesMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "resources/list" {
			return next(ctx, method, req)
		}
		var cursor string
		if p, ok := req.GetParams().(*mcp.ListResourcesParams); ok && p != nil {
			cursor = p.Cursor
		}
		return s.listResources(ctx, cursor)
	}
}

func (s *Server) listResources(ctx context.Context, cursor string) (*mcp.ListResourcesResult, error) {
	// Per caller: only its own client may cache the list.
	res := &mcp.ListResourcesResult{Resources: []*mcp.Resource{}, Cacheable: privateResult}
	id, err := sessions.Caller(ctx)
	if err != nil {
		return nil, err
	}
	ns := s.sessions.DefaultNamespace(id)
	if validNamespace(ns) != nil {
		return res, nil
	}
	if err := s.sessions.Authorize(ctx, id, auth.VerbList, ns, ""); err != nil {
		// Nothing the caller may list: an empty list, not an error, so a
		// client can still use the resource template in other namespaces.
		return res, nil
	}
	after, err := decodeListCursor(cursor, ns, "resources/list")
	if err != nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: err.Error()}
	}
	page, more, err := s.sessions.Page(ctx, sessions.PageRequest{Namespace: ns, After: after, Limit: resourcePageSize})
	if err != nil {
		return nil, requestFailure(ctx, "resources/list", err, nil)
	}
	for _, sess := range page {
		desc := sess.Description
		if desc == "" {
			desc = sess.Project
		}
		res.Resources = append(res.Resources, &mcp.Resource{
			URI: sessionURI(sess.Namespace, sess.Name), Name: sess.Name,
			Title:       sess.Project,
			Description: desc + " [" + string(sess.Phase) + "]",
			MIMEType:    "application/json",
		})
	}
	if more {
		res.NextCursor = encodeListCursor(ns, page[len(page)-1].Name)
	}
	return res, nil
}

// watchSessions notifies subscribers of changes made outside this server
// (kubectl, GitOps, the lifecycle controller): a new generation (spec) or
// a new phase. Status writes of counts and activity, this server's own,
// are not news.
func (s *Server) watchSessions(ctx context.Context) error {
	inf, err := s.opts.Informers.GetInformer(ctx, &v1alpha1.McpSession{})
	if err != nil {
		return err
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*v1alpha1.McpSession)
			n, ok2 := newObj.(*v1alpha1.McpSession)
			if ok1 && ok2 && (o.Generation != n.Generation || o.Status.Phase != n.Status.Phase || (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil)) {
				s.subs.changed(ctx, n.Namespace, n.Name)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if n, ok := obj.(*v1alpha1.McpSession); ok {
				s.subs.changed(ctx, n.Namespace, n.Name)
			}
		},
	})
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		_ = inf.RemoveEventHandler(reg)
	}()
	return nil
}
