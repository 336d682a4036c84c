package auth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// WellKnownPath is where OAuth protected-resource metadata lives (RFC 9728
// §3): at the root, and with the resource's path appended
// (/.well-known/oauth-protected-resource/mcp), where MCP clients look
// first.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// ResourceMetadata describes the MCP endpoint as an OAuth 2.0 protected
// resource (RFC 9728): its identifier and the authorization servers whose
// tokens it takes. Clients that follow the MCP authorization spec read it
// after a 401 to learn where to get a token.
type ResourceMetadata struct {
	// resource is the endpoint's canonical URL (--mcp-resource-url), or
	// nil to take scheme and host from each request: the URL the client
	// used (a port-forward, the Service's name) is then the identifier.
	resource *url.URL
	// path is the endpoint's path on this server when resource is nil.
	path string
	// servers are the issuers whose tokens the cluster accepts for this
	// server's audience (--mcp-authorization-servers).
	servers []string
}

// NewResourceMetadata checks the flags' values: resource empty or an
// absolute http(s) URL without query or fragment, each server an absolute
// http(s) issuer URL. path is where the endpoint is served (/mcp).
func NewResourceMetadata(resource string, servers []string, path string) (*ResourceMetadata, error) {
	m := &ResourceMetadata{path: path}
	if resource != "" {
		u, err := absoluteURL(resource)
		if err != nil {
			return nil, fmt.Errorf("--mcp-resource-url %q: %w", resource, err)
		}
		m.resource = u
	}
	for _, s := range servers {
		if _, err := absoluteURL(s); err != nil {
			return nil, fmt.Errorf("--mcp-authorization-servers: %q: %w", s, err)
		}
		m.servers = append(m.servers, s)
	}
	return m, nil
}

func absoluteURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return nil, fmt.Errorf("want an absolute http or https URL")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("want a URL without query or fragment")
	}
	return u, nil
}

// Resource is the endpoint's resource identifier as seen by r.
func (m *ResourceMetadata) Resource(r *http.Request) *url.URL {
	if m.resource != nil {
		return m.resource
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: r.Host, Path: m.path}
}

// URL is where the metadata document of the resource r reached is: the
// well-known path inserted between host and path (RFC 9728 §3.1).
func (m *ResourceMetadata) URL(r *http.Request) string {
	res := m.Resource(r)
	u := url.URL{Scheme: res.Scheme, Host: res.Host, Path: WellKnownPath + strings.TrimSuffix(res.Path, "/")}
	return u.String()
}

// Document is the metadata served for a request r.
func (m *ResourceMetadata) Document(r *http.Request) *oauthex.ProtectedResourceMetadata {
	return &oauthex.ProtectedResourceMetadata{
		Resource:               m.Resource(r).String(),
		AuthorizationServers:   m.servers,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "mcp-session-operator",
	}
}

// ServeHTTP serves the document with the go-sdk's handler (JSON, GET only,
// readable from any origin since it is public).
func (m *ResourceMetadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sdkauth.ProtectedResourceMetadataHandler(m.Document(r)).ServeHTTP(w, r)
}
