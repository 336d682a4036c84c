package mcpserver

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// AuthMode says how HTTP callers are authenticated.
type AuthMode string

const (
	// AuthKubernetes checks bearer tokens with TokenReview and every call
	// with SubjectAccessReview (the default; see internal/auth).
	AuthKubernetes AuthMode = "kubernetes"
	// AuthNone treats every caller as an unrestricted local user. Only
	// allowed on a loopback bind address (see ValidateAuth).
	AuthNone AuthMode = "none"
)

// Defaults for Options.
const (
	DefaultAddr           = ":8090"
	DefaultSyncInterval   = sessions.DefaultSyncInterval
	DefaultMaxBodyBytes   = 4 << 20
	DefaultResumeWait     = 10 * time.Second
	DefaultAudience       = "mcp-session-operator"
	DefaultLocalNamespace = sessions.DefaultLocalNamespace
)

// Authorizer decides whether an identity may perform verb on mcpsessions
// (name "" means the collection) in a namespace; *auth.Authorizer is the
// real one. It returns a *auth.Forbidden when the answer is no.
type Authorizer = sessions.Authorizer

// Options configure New.
type Options struct {
	// Addr is the Streamable HTTP bind address (default DefaultAddr). The
	// endpoint is served at /mcp.
	Addr string

	// Client reads McpSessions from the manager's cache and writes them.
	// When nil the server runs on a local registry kept in Store (stdio mode
	// and local development; no Kubernetes at all).
	Client client.Client
	// APIReader reads straight from the apiserver, for the moments the
	// cache may lag (a session created a moment ago). Defaults to Client.
	APIReader client.Reader
	// Informers, when set, lets the server notify resource subscribers of
	// changes made outside it (kubectl, the lifecycle controller). Usually
	// mgr.GetCache().
	Informers cache.Informers

	// Store holds the sessions' data. Required.
	Store store.Store

	// AuthMode is AuthKubernetes (default) or AuthNone.
	AuthMode AuthMode
	// Authenticator turns bearer tokens into identities (AuthKubernetes);
	// *auth.TokenAuthenticator is the real one.
	Authenticator auth.Authenticator
	// Authorizer checks every call (AuthKubernetes).
	Authorizer Authorizer
	// ResourceURL is the endpoint's canonical URL as clients reach it
	// (--mcp-resource-url), the resource of its OAuth protected-resource
	// metadata. Empty: the URL each request came in on.
	ResourceURL string
	// AuthorizationServers are the issuers whose tokens the cluster
	// accepts for this server's audience (--mcp-authorization-servers),
	// listed in the metadata.
	AuthorizationServers []string
	// AllowedOrigins are extra browser origins (scheme://host[:port]) allowed
	// besides the request's own host and loopback origins. New refuses one
	// that is not of that form.
	AllowedOrigins []string

	// Clock stamps activity and drives the status sync; tests pass a fake
	// clock. Defaults to the real clock.
	Clock clock.WithTicker
	// SyncInterval is the most often status (counts, lastActivityTime) is
	// written per session (default DefaultSyncInterval); shorter for
	// sessions whose idleTimeout/10 is shorter.
	SyncInterval time.Duration
	// MaxBodyBytes bounds one HTTP request body (default DefaultMaxBodyBytes);
	// larger requests get 413.
	MaxBodyBytes int64
	// ResumeWait bounds how long resume_session waits for the lifecycle
	// controller to report the session Active (default DefaultResumeWait).
	ResumeWait time.Duration
	// Defaults are the operator's settings, used for sessions the
	// controller has not resolved yet and by the local registry (default
	// lifecycle.DefaultDefaults()).
	Defaults *lifecycle.Defaults
	// LocalNamespace is the namespace of sessions in the local registry
	// (default DefaultLocalNamespace).
	LocalNamespace string

	// Logger for the server; defaults to controller-runtime's logger
	// (ctrl.Log) named "mcpserver".
	Logger logr.Logger
}

// ValidateAuth checks the --auth flag against the bind address: AuthNone is
// only allowed when every address the server listens on is loopback, so
// that nobody on the network can use the unrestricted local identity.
func ValidateAuth(mode AuthMode, addr string) error {
	switch mode {
	case AuthKubernetes:
		return nil
	case AuthNone:
		if !isLoopbackBind(addr) {
			return fmt.Errorf("--auth=none needs a loopback bind address such as 127.0.0.1:8090 or localhost:8090, not %q: without authentication anyone who can reach the port could read every session", addr)
		}
		return nil
	default:
		return fmt.Errorf("unknown auth mode %q: use %q or %q", mode, AuthKubernetes, AuthNone)
	}
}

// isLoopbackBind reports whether a bind address only listens on loopback.
// An empty host (":8090") listens on every interface, so it is not.
func isLoopbackBind(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (o *Options) setDefaults() error {
	if o.Store == nil {
		return errors.New("mcpserver: Options.Store is required")
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.AuthMode == "" {
		// Local mode has no apiserver to ask.
		o.AuthMode = AuthKubernetes
		if o.Client == nil {
			o.AuthMode = AuthNone
		}
	}
	switch o.AuthMode {
	case AuthKubernetes:
		if o.Authenticator == nil || o.Authorizer == nil {
			return errors.New("mcpserver: --auth=kubernetes needs an Authenticator and an Authorizer")
		}
	case AuthNone:
	default:
		return fmt.Errorf("mcpserver: unknown auth mode %q", o.AuthMode)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.ResumeWait <= 0 {
		o.ResumeWait = DefaultResumeWait
	}
	if o.Defaults == nil {
		d := lifecycle.DefaultDefaults()
		o.Defaults = &d
	}
	if o.Logger.GetSink() == nil {
		o.Logger = log.Log.WithName("mcpserver")
	}
	return nil
}
