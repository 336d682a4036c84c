package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	sessionsv1alpha1 "github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/controllers"
	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/mcpserver"
	"github.com/mcp-session-operator/mcp-session-operator/internal/memory"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/backend"
	"github.com/mcp-session-operator/mcp-session-operator/internal/version"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(sessionsv1alpha1.AddToScheme(scheme))
}

// runManager runs the operator until a signal ends it: parse the flags,
// open the store, start the controllers and the MCP server (or MCP over
// stdio without Kubernetes). The store is closed on every way out.
func runManager(args []string) (err error) {
	var (
		metricsAddr          string
		probeAddr            string
		pprofAddr            string
		secureMetrics        bool
		enableLeaderElection bool
		leaderElectionNS     string
		enableHTTP2          bool
		mcpAddr              string
		mcpStdio             bool
		authMode             string
		audience             string
		allowedOrigins       string
		resourceURL          string
		authServers          string
		mcpSync              time.Duration
		mcpMaxBody           int64
		walMinSync           time.Duration
	)
	defaults := lifecycle.DefaultDefaults()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	// Flags libraries register on the global set (controller-runtime's
	// --kubeconfig, which ctrl.GetConfig reads) are the manager's too.
	flag.CommandLine.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })
	fs.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint binds to; 0 disables it.")
	fs.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	fs.StringVar(&pprofAddr, "pprof-bind-address", "0", "Address Go's pprof profiles are served on (/debug/pprof/); 0 disables them. Keep it on loopback: the profiles are not authenticated.")
	fs.BoolVar(&secureMetrics, "metrics-secure", false, "Serve metrics over HTTPS, authenticated and authorised against the apiserver.")
	fs.BoolVar(&enableLeaderElection, "leader-elect", false, "Elect a leader so only one manager reconciles at a time.")
	fs.StringVar(&leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election Lease; in a cluster it defaults to the pod's own namespace, outside one it must be set.")
	fs.BoolVar(&enableHTTP2, "enable-http2", false, "Serve metrics over HTTP/2 (off by default: CVE-2023-44487, CVE-2023-39325).")
	storeFlag := addStoreFlag(fs, "store", "data-dir", "The session store (in a cluster pebble:/data is the PVC's mount)")
	fs.DurationVar(&walMinSync, "store-wal-min-sync-interval", 0, "Group-commit window: the shortest time between two WAL fsyncs. 0 syncs at once; a window (e.g. 1ms) lets many concurrent writers share fsyncs at the cost of up to the window of latency on every write.")
	fs.DurationVar(&defaults.IdleTimeout, "default-idle-timeout", defaults.IdleTimeout, "Suspend sessions idle this long when neither the session nor a policy says otherwise (0: never).")
	fs.DurationVar(&defaults.TTL, "default-ttl", defaults.TTL, "Terminate (Expired) sessions idle this long when neither the session nor a policy says otherwise (0: never).")
	fs.DurationVar(&defaults.Retention, "default-retention", defaults.Retention, "Delete terminated sessions after this long when neither the session nor a policy says otherwise (0: keep).")
	fs.StringVar(&mcpAddr, "mcp-bind-address", mcpserver.DefaultAddr, "Address the MCP server (Streamable HTTP, path /mcp) binds to.")
	fs.BoolVar(&mcpStdio, "mcp-stdio", false, "Serve MCP over stdin/stdout against --store without Kubernetes (for a desktop MCP client).")
	fs.StringVar(&authMode, "auth", string(mcpserver.AuthKubernetes), "MCP authentication: kubernetes (TokenReview + SubjectAccessReview) or none (only with a loopback --mcp-bind-address).")
	fs.StringVar(&audience, "mcp-token-audience", mcpserver.DefaultAudience, "Audience MCP bearer tokens must be issued for.")
	fs.StringVar(&resourceURL, "mcp-resource-url", "", "The MCP endpoint's URL as clients reach it (e.g. https://mcp.example.com/mcp): the resource of its OAuth protected-resource metadata. Empty: the URL each request came in on.")
	fs.StringVar(&authServers, "mcp-authorization-servers", "", "Comma-separated issuer URLs of the OIDC providers the cluster trusts for the token audience, listed in the protected-resource metadata.")
	fs.DurationVar(&mcpSync, "mcp-status-sync-interval", mcpserver.DefaultSyncInterval, "Most often a session's status counts and lastActivityTime are written.")
	fs.Int64Var(&mcpMaxBody, "mcp-max-body-bytes", mcpserver.DefaultMaxBodyBytes, "Largest MCP request body accepted (413 beyond).")
	fs.StringVar(&allowedOrigins, "mcp-allowed-origins", "", "Comma-separated browser origins allowed to call the MCP server besides loopback and the server's own host.")
	// Handled by run (wantsVersion) before parsing; declared so --help lists it.
	fs.Bool("version", false, "Print the version and build information, then exit (also: manager version).")
	opts := zap.Options{Development: false}
	opts.BindFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage(), "\nFlags of the operator:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unknown subcommand or argument %q\n%s", fs.Arg(0), usage())
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	memory.SetLimit(setupLog)

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: tlsOpts}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	if err := validateDefaults(defaults); err != nil {
		return &usageError{err}
	}
	if !mcpStdio {
		if err := mcpserver.ValidateAuth(mcpserver.AuthMode(authMode), mcpAddr); err != nil {
			return &usageError{err}
		}
		if _, err := auth.NewResourceMetadata(resourceURL, splitList(authServers), mcpserver.MCPPath); err != nil {
			return &usageError{err}
		}
	}
	if walMinSync < 0 {
		return usagef("--store-wal-min-sync-interval must not be negative, got %s", walMinSync)
	}
	spec, err := storeFlag.resolve()
	if err != nil {
		return err
	}

	ctx := ctrl.SetupSignalHandler()
	if !mcpStdio {
		// Before the store is opened: a second replica of a Pebble install
		// must not even try.
		if err := checkReplicas(ctx, spec); err != nil {
			return err
		}
	}
	st, err := backend.Open(ctx, spec, backend.Options{WALMinSyncInterval: walMinSync, Logger: ctrl.Log.WithName("store")})
	if err != nil {
		return fmt.Errorf("open the session store %s: %w", spec, err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close the session store: %w", cerr)
		}
	}()

	if mcpStdio {
		// No Kubernetes: sessions live in the local store only. Logs go to
		// stderr; stdout carries the protocol.
		return serveStdio(ctx, st, defaults, mcpSync)
	}

	// Served on the manager's metrics endpoint with the controllers' and
	// the MCP server's series.
	if err := registerMetrics(metrics.Registry, st); err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   controllers.CacheOptions(),
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          enableLeaderElection,
		LeaderElectionID:        "mcp-session-operator.sessions.mcp.dev",
		LeaderElectionNamespace: leaderElectionNS,
		// The manager exits as soon as it stops, so it can hand the Lease
		// over at once: a rolling update or a scale-down moves leadership
		// without waiting for the Lease to expire.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("create the manager: %w", err)
	}
	if err := controllers.Setup(mgr, controllers.Options{Defaults: defaults, Store: st}); err != nil {
		return fmt.Errorf("set up the controllers: %w", err)
	}
	srv, err := addMCPServer(mgr, st, defaults, mcpserver.Options{
		Addr: mcpAddr, AuthMode: mcpserver.AuthMode(authMode),
		SyncInterval: mcpSync, MaxBodyBytes: mcpMaxBody, AllowedOrigins: splitList(allowedOrigins),
		ResourceURL: resourceURL, AuthorizationServers: splitList(authServers),
	}, audience)
	if err != nil {
		return fmt.Errorf("set up the MCP server: %w", err)
	}
	// Liveness is a plain ping: the probe server only starts once the store
	// is open (the startup probe covers that), and a busy store must not
	// get the pod restarted. Readiness asks the MCP listener, which answers
	// only while it serves and its store is open.
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("set up the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("mcp", srv.ReadyzCheck()); err != nil {
		return fmt.Errorf("set up the ready check: %w", err)
	}

	setupLog.Info("starting manager", "version", version.Get().Version, "revision", version.Get().Revision, "store", spec.String())
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	return nil
}

// addMCPServer runs the MCP server as a manager Runnable sharing the
// manager's cache, client and store. It is not leader-elected: every
// replica serves MCP.
func addMCPServer(mgr ctrl.Manager, st store.Store, defaults lifecycle.Defaults, opts mcpserver.Options, audience string) (*mcpserver.Server, error) {
	opts.Client, opts.APIReader, opts.Informers = mgr.GetClient(), mgr.GetAPIReader(), mgr.GetCache()
	opts.Store, opts.Defaults = st, &defaults
	if opts.AuthMode == mcpserver.AuthKubernetes {
		authn, authz, err := auth.New(mgr.GetConfig(), auth.Options{Audiences: []string{audience}})
		if err != nil {
			return nil, err
		}
		opts.Authenticator, opts.Authorizer = authn, authz
	}
	srv, err := mcpserver.New(opts)
	if err != nil {
		return nil, err
	}
	return srv, mgr.Add(srv)
}

// registerMetrics adds the store's health and the build information to reg
// (controller-runtime's registry in the manager), beside the series the
// controllers and the MCP server register themselves.
func registerMetrics(reg prometheus.Registerer, st store.Store) error {
	for _, c := range []prometheus.Collector{st.Collector(), version.Collector()} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// serveStdio serves MCP on stdin/stdout against the local store until stdin
// closes or a signal arrives.
func serveStdio(ctx context.Context, st store.Store, defaults lifecycle.Defaults, sync time.Duration) error {
	srv, err := mcpserver.New(mcpserver.Options{Store: st, Defaults: &defaults, SyncInterval: sync})
	if err != nil {
		return err
	}
	return srv.ServeStdio(ctx, os.Stdin, os.Stdout)
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// validateDefaults keeps the operator-wide defaults consistent with what the
// CRD enforces per session: no negative durations, ttl not below idleTimeout.
func validateDefaults(d lifecycle.Defaults) error {
	for name, v := range map[string]time.Duration{"--default-idle-timeout": d.IdleTimeout, "--default-ttl": d.TTL, "--default-retention": d.Retention} {
		if v < 0 {
			return fmt.Errorf("%s must not be negative, got %s", name, v)
		}
	}
	if d.TTL > 0 && d.IdleTimeout > 0 && d.TTL < d.IdleTimeout {
		return fmt.Errorf("--default-ttl (%s) must not be shorter than --default-idle-timeout (%s)", d.TTL, d.IdleTimeout)
	}
	return nil
}
