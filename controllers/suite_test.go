package controllers

import (
	"context"
	"flag"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// The tests run against a real kube-apiserver and etcd (envtest; set
// KUBEBUILDER_ASSETS, e.g. with hack/control-plane.sh). Each test gets its
// own namespace and its own manager whose cache sees only that namespace,
// driven by its own fake clock.
//
// RequeueAfter is real time while deadlines come from the fake clock, so a
// test that steps the clock past a deadline then "pokes" the session (bumps
// an annotation) to make the controller look at it: the same thing any
// change to the object does. Tests about RequeueAfter itself, and about
// what the controller does not do, call Reconcile directly instead (see
// reconcile_test.go).
var (
	testEnv   *envtest.Environment
	testCfg   *rest.Config
	k8s       client.Client // uncached: reads what the API server holds
	scheme    = runtime.NewScheme()
	pokeCount int64
	pokeMu    sync.Mutex
)

const pokeAnnotation = "test.sessions.mcp.dev/poke"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Verbose() && os.Getenv("TEST_LOG") != "" {
		logf.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	} else {
		logf.SetLogger(logr.Discard())
	}
	os.Exit(testenv.Main(m, scheme, func(env *testenv.Env) (func(), error) {
		testEnv, testCfg, k8s = env.Environment, env.Config, env.Client
		return nil, nil
	}))
}

// recordingStore is a SessionStore that remembers what it erased and can be
// told to fail.
type recordingStore struct {
	mu     sync.Mutex
	erased []string
	err    error
}

func (s *recordingStore) Erase(_ context.Context, uid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.erased = append(s.erased, uid)
	return nil
}

func (s *recordingStore) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *recordingStore) erasedUIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.erased...)
}

// countingClient counts, per object name, the reads and writes the session
// controller makes, so tests can prove reconciles happened and wrote nothing.
type countingClient struct {
	client.Client
	mu     sync.Mutex
	gets   map[string]int
	writes map[string]int
}

func (c *countingClient) count(m map[string]int, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m[name]++
}

func (c *countingClient) snapshot(name string) (gets, writes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[name], c.writes[name]
}

func (c *countingClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.count(c.gets, key.Name)
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c *countingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	c.count(c.writes, obj.GetName())
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c *countingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	c.count(c.writes, obj.GetName())
	return c.Client.Update(ctx, obj, opts...)
}

func (c *countingClient) Status() client.SubResourceWriter {
	return countingStatus{SubResourceWriter: c.Client.Status(), c: c}
}

type countingStatus struct {
	client.SubResourceWriter
	c *countingClient
}

func (s countingStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	s.c.count(s.c.writes, obj.GetName())
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

func (s countingStatus) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	s.c.count(s.c.writes, obj.GetName())
	return s.SubResourceWriter.Update(ctx, obj, opts...)
}

// harness is one test's namespace, manager, fake clock and fake store.
type harness struct {
	t      *testing.T
	ctx    context.Context
	ns     string
	clock  *clocktesting.FakeClock
	store  *recordingStore
	client *countingClient
}

func newNamespace(t testing.TB) string {
	t.Helper()
	testenv.Require(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

// start runs the controllers for a fresh namespace until the test ends.
func start(t *testing.T, defaults lifecycle.Defaults) *harness {
	t.Helper()
	ns := newNamespace(t)
	mgr, err := ctrl.NewManager(testCfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cacheFor(ns),
		// Every test builds the same controllers again in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("manager: %v", err)
	}
	h := &harness{
		t:     t,
		ns:    ns,
		clock: clocktesting.NewFakeClock(time.Now()),
		store: &recordingStore{},
		client: &countingClient{Client: mgr.GetClient(),
			gets: map[string]int{}, writes: map[string]int{}},
	}
	sessions := &SessionReconciler{
		Client:   h.client,
		Clock:    h.clock,
		Defaults: defaults,
		Store:    h.store,
		Recorder: mgr.GetEventRecorder(EventSource),
	}
	if err := sessions.SetupWithManager(mgr); err != nil {
		t.Fatalf("session controller: %v", err)
	}
	if err := (&PolicyReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		t.Fatalf("policy controller: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	return h
}

// cacheFor is CacheOptions for one namespace.
func cacheFor(ns string) cache.Options {
	opts := CacheOptions()
	opts.DefaultNamespaces = map[string]cache.Config{ns: {}}
	return opts
}
