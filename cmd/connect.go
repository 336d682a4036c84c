package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os/signal"
	"strings"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/mcp-session-operator/mcp-session-operator/internal/bridge"
	"github.com/mcp-session-operator/mcp-session-operator/internal/mcpserver"
)

var connectCommand = command{
	name:    "connect",
	summary: "bridge an MCP client on stdin/stdout to the operator's MCP server (desktop clients)",
	flags: func(fs *flag.FlagSet) func(stdio) error {
		var o connectOptions
		fs.StringVar(&o.url, "url", "", "The MCP endpoint to talk to (e.g. https://mcp.example.com/mcp). Without it: a port-forward to the operator's MCP Service through the kubeconfig.")
		fs.StringVar(&o.tokenFile, "token-file", "", "File holding the bearer token, read for every request.")
		fs.StringVar(&o.kubeconfig, "kubeconfig", "", "Kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config).")
		fs.StringVar(&o.context, "context", "", "Kubeconfig context to use (default: the current one).")
		fs.StringVar(&o.namespace, "namespace", bridge.DefaultNamespace, "Namespace of the operator's MCP Service.")
		fs.StringVar(&o.service, "service", bridge.DefaultService, "Name of the operator's MCP Service.")
		fs.StringVar(&o.serviceAccount, "service-account", "", "NAMESPACE/NAME of the service account to act as: its tokens are minted with TokenRequest (your kubeconfig's credentials need create on serviceaccounts/token) and refreshed before they expire.")
		fs.StringVar(&o.audience, "audience", mcpserver.DefaultAudience, "Audience the server takes tokens for (its --mcp-token-audience).")
		return o.run
	},
}

type connectOptions struct {
	url, tokenFile, kubeconfig, context, namespace, service, serviceAccount, audience string
}

// upstream checks the flags and builds where the bridge sends messages:
// the URL with the token file, or the kubeconfig's cluster (a port-forward
// unless a URL is given) with a token file or tokens minted for a service
// account.
func (o *connectOptions) upstream(log *slog.Logger) (bridge.Upstream, func(), error) {
	if o.url != "" {
		u, err := url.Parse(o.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, usagef("--url %q: want an http or https URL such as https://mcp.example.com/mcp", o.url)
		}
	}
	if o.tokenFile != "" && o.serviceAccount != "" {
		return nil, nil, usagef("--token-file and --service-account both say where the token comes from: use one")
	}
	var tokens bridge.TokenSource
	if o.tokenFile != "" {
		tokens = bridge.FileToken(o.tokenFile)
	}
	if o.url != "" && o.serviceAccount == "" {
		return bridge.Direct{URL: o.url, Client: bridge.NewHTTPClient(tokens, nil)}, func() {}, nil
	}
	var sa [2]string
	if o.serviceAccount != "" {
		ns, name, ok := strings.Cut(o.serviceAccount, "/")
		if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
			return nil, nil, usagef("--service-account %q: want NAMESPACE/NAME, e.g. payments/debug-assistant", o.serviceAccount)
		}
		sa = [2]string{ns, name}
	} else if tokens == nil {
		return nil, nil, usagef("through the kubeconfig, the server needs a token: --service-account NAMESPACE/NAME (minted with TokenRequest) or --token-file")
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	k := &bridge.Kube{
		Kubeconfig: clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.context}),
		Namespace:  o.namespace, Service: o.service, URL: o.url,
		Tokens: tokens, ServiceAccount: sa, Audience: o.audience, Log: log,
	}
	return k, k.Close, nil
}

// run bridges stdin/stdout to the server until the client closes stdin or
// a signal arrives. Problems go to stderr, and to the client as JSON-RPC
// errors; stdout carries the protocol only.
func (o *connectOptions) run(io stdio) error {
	log := slog.New(slog.NewTextHandler(io.err, nil)).With("component", "manager connect")
	up, closeUp, err := o.upstream(log)
	if err != nil {
		return err
	}
	defer closeUp()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	down, err := (&mcp.IOTransport{Reader: readCloser{io.in}, Writer: writeCloser{io.out}}).Connect(ctx)
	if err != nil {
		return err
	}
	defer down.Close()
	if err := bridge.Run(ctx, down, up, log); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	return nil
}

type readCloser struct{ io.Reader }

func (readCloser) Close() error { return nil }

type writeCloser struct{ io.Writer }

func (writeCloser) Close() error { return nil }
