package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	testingclock "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/controllers"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// The integration tests run the MCP server against a real kube-apiserver
// and etcd (envtest, KUBEBUILDER_ASSETS from hack/control-plane.sh), the
// real lifecycle controllers and a real store, driven by the go-sdk's own
// client over real Streamable HTTP. One control plane, manager and store
// serve the whole package; every test works in its own namespace.
var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8s       client.Client // direct, uncached
	clientset *kubernetes.Clientset
	mgrClient client.Client // the manager's cached client, as in production
	mgrReader client.Reader
	testStore store.Store
	// testClock drives the controllers, the store and the servers, so a
	// test can step through days.
	testClock = testingclock.NewFakeClock(time.Now())
	scheme    = runtime.NewScheme()
	mgr       ctrl.Manager
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.Level(zapLevel()))))
	os.Exit(testenv.Main(m, scheme, startShared))
}

// startShared starts what the package's integration tests share beside
// the control plane: a store, and a manager running the controllers.
func startShared(env *testenv.Env) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	testEnv, cfg, k8s = env.Environment, env.Config, env.Client
	if clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mcpserver-store-")
	if err != nil {
		return nil, err
	}
	stops = append(stops, func() { _ = os.RemoveAll(dir) })
	if testStore, err = pebblestore.Open(dir, pebblestore.Options{Clock: testClock, Logger: quietPebble{}}); err != nil {
		return nil, err
	}
	stops = append(stops, func() { _ = testStore.Close() })

	mgr, err = ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Cache:   controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		return nil, err
	}
	if err := controllers.Setup(mgr, controllers.Options{Clock: testClock, Defaults: lifecycle.DefaultDefaults(), Store: testStore}); err != nil {
		return nil, err
	}
	mgrClient, mgrReader = mgr.GetClient(), mgr.GetAPIReader()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stops = append(stops, func() { cancel(); <-done })
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return nil, errors.New("manager cache did not sync")
	}
	return stop, nil
}

func zapLevel() int8 {
	if os.Getenv("MCPSERVER_TEST_LOG") != "" {
		return -2
	}
	return 10 // quiet unless asked
}

// newNamespace gives each test its own namespace: envtest cannot delete them.
func newNamespace(t testing.TB) string {
	t.Helper()
	testenv.Require(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "mcp-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

// startServer runs a Kubernetes-backed server (the manager's client and
// cache, the shared store and clock unless opts say otherwise) on a real
// 127.0.0.1 listener, as the manager would, and returns its /mcp URL.
func startServer(t testing.TB, opts Options) (*Server, string) {
	t.Helper()
	testenv.Require(t)
	if opts.Store == nil {
		opts.Store = testStore
	}
	if opts.Clock == nil {
		opts.Clock = testClock
	}
	if opts.Client == nil {
		opts.Client, opts.APIReader, opts.Informers = mgrClient, mgrReader, mgr.GetCache()
	}
	if opts.AuthMode == "" {
		opts.AuthMode = AuthNone
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, serveHTTP(t, s)
}

// serveHTTP runs s on a 127.0.0.1 listener until the test ends.
func serveHTTP(t testing.TB, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/mcp"
}

type clientOpts struct {
	token    string
	version  string
	onUpdate func(uri string)
}

// connect opens a go-sdk client session over Streamable HTTP.
func connect(t testing.TB, url string, o clientOpts) *mcp.ClientSession {
	t.Helper()
	hc := &http.Client{Timeout: 60 * time.Second}
	if o.token != "" {
		hc.Transport = testenv.Bearer(o.token, http.DefaultTransport)
	}
	copts := &mcp.ClientOptions{}
	if o.onUpdate != nil {
		copts.ResourceUpdatedHandler = func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) { o.onUpdate(r.Params.URI) }
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "mcpserver-test", Version: "v0"}, copts)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: o.version})
	if err != nil {
		t.Fatalf("connect %s (version %q): %v", url, o.version, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// call invokes a tool and fails the test on a protocol error.
func call(t testing.TB, cs *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", name, err)
	}
	return res
}

// ok invokes a tool that must succeed and decodes its structured result.
func ok[T any](t testing.TB, cs *mcp.ClientSession, name string, args map[string]any) T {
	t.Helper()
	res := call(t, cs, name, args)
	if res.IsError {
		t.Fatalf("%s(%s) failed: %s", name, brief(args), text(res))
	}
	var out T
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: decode %s: %v", name, raw, err)
	}
	return out
}

// fails invokes a tool that must fail with an isError result whose text
// contains every one of want.
func fails(t testing.TB, cs *mcp.ClientSession, name string, args map[string]any, want ...string) string {
	t.Helper()
	res := call(t, cs, name, args)
	if !res.IsError {
		t.Fatalf("%s(%s) succeeded, want an error containing %q; got %s", name, brief(args), want, text(res))
	}
	if res.StructuredContent != nil {
		t.Errorf("%s: error result carries data: %v", name, res.StructuredContent)
	}
	msg := text(res)
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s error %q does not contain %q", name, msg, w)
		}
	}
	return msg
}

// brief shows tool arguments in a failure message, long values cut.
func brief(args map[string]any) string {
	s := jsonOf(args)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// waitTimeout bounds every wait of these tests (testenv.Eventually).
const waitTimeout = 20 * time.Second

// session reads an McpSession straight from the apiserver.
func session(t testing.TB, ns, name string) *v1alpha1.McpSession {
	t.Helper()
	obj := &v1alpha1.McpSession{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatalf("get McpSession %s/%s: %v", ns, name, err)
	}
	return obj
}

type mcpReadParams = mcp.ReadResourceParams

func mcpClient() *mcp.Client {
	return mcp.NewClient(&mcp.Implementation{Name: "mcpserver-test", Version: "v0"}, nil)
}

func streamable(url, token string) *mcp.StreamableClientTransport {
	hc := &http.Client{Timeout: 30 * time.Second}
	if token != "" {
		hc.Transport = testenv.Bearer(token, http.DefaultTransport)
	}
	return &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc, MaxRetries: -1}
}

// quietPebble drops Pebble's informational log lines (WAL replay and the
// like) that would otherwise fill test output; errors still show.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any) {}
func (quietPebble) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (quietPebble) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(1)
}
