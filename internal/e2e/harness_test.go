//go:build e2e

// Package e2e tests the operator as users run it: a real kube-apiserver and
// etcd, the manager binary as a separate process (so it can be stopped and
// SIGKILLed), and a real MCP client over Streamable HTTP.
package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

var (
	testEnv    *envtest.Environment
	k8sClient  client.Client
	kubeconfig string
	scheme     = runtime.NewScheme()
)

func TestMain(m *testing.M) {
	if os.Getenv("MANAGER_BINARY") == "" {
		fmt.Fprintln(os.Stderr, "MANAGER_BINARY is not set: run `make test-e2e`")
		os.Exit(1)
	}
	env, err := testenv.Start(scheme)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testEnv, k8sClient = env.Environment, env.Client
	code := func() int {
		defer func() { _ = env.Stop() }()
		admin, err := testEnv.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		kc, err := admin.KubeConfig()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		dir, err := os.MkdirTemp("", "e2e-kubeconfig-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		kubeconfig = filepath.Join(dir, "kubeconfig")
		if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// manager is the real manager binary running as a child process.
type manager struct {
	t testing.TB
	// dataDir holds the Pebble store unless store names another, and
	// names the log file (dataDir + ".log").
	dataDir string
	// store is the --store value; default pebble:dataDir.
	store string
	addr  string
	args  []string
	cmd   *exec.Cmd
	done  chan error
	log   *os.File
	// kubeconfig the manager uses (default: the admin's) and the bearer
	// token MCP clients send (default: none, for --auth=none).
	kubeconfig, token string
	// env is added to the manager's environment.
	env []string
	// readyTimeout bounds the wait for the MCP endpoint at start (default
	// a minute; a manager syncing 100,000 sessions takes longer).
	readyTimeout time.Duration
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startManager starts the manager on a fresh data dir with the MCP endpoint
// on a free loopback port (auth off, as `make dev` runs it).
func startManager(t testing.TB, extra ...string) *manager {
	t.Helper()
	m := &manager{t: t, dataDir: t.TempDir(), addr: freeAddr(t), args: extra}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *manager) start() {
	m.t.Helper()
	args := append([]string{
		"--store=" + m.storeSpec(),
		"--mcp-bind-address=" + m.addr,
		"--auth=none",
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
	}, m.args...)
	logf, err := os.OpenFile(m.dataDir+".log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	m.log = logf
	m.cmd = exec.Command(os.Getenv("MANAGER_BINARY"), args...)
	kc := m.kubeconfig
	if kc == "" {
		kc = kubeconfig
	}
	m.cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kc), m.env...)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start manager: %v", err)
	}
	m.done = make(chan error, 1)
	go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(m.cmd, m.done)
	m.waitReady()
}

// storeSpec is the manager's --store.
func (m *manager) storeSpec() string {
	if m.store != "" {
		return m.store
	}
	return "pebble:" + m.dataDir
}

// run runs the manager to its end (at most a minute) with extra
// environment, for a start that must fail, and returns its output.
func (m *manager) run(env ...string) (string, error) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Getenv("MANAGER_BINARY"), append([]string{"--store=" + m.storeSpec(), "--mcp-bind-address=" + m.addr,
		"--auth=none", "--metrics-bind-address=0", "--health-probe-bind-address=0"}, m.args...)...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kubeconfig), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitReady waits until an MCP client can list tools.
func (m *manager) waitReady() {
	m.t.Helper()
	timeout := m.readyTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	testenv.Eventually(m.t, timeout, "the manager to serve MCP", func() string {
		select {
		case err := <-m.done:
			m.t.Fatalf("manager exited during startup: %v\n%s", err, m.logTail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cs, err := m.connect(ctx)
		if err == nil {
			_, err = cs.ListTools(ctx, nil)
			cs.Close()
		}
		if err != nil {
			return err.Error() + "\n" + m.logTail()
		}
		return ""
	})
}

func (m *manager) logTail() string {
	data, _ := os.ReadFile(m.log.Name())
	lines := strings.Split(string(data), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// stop sends SIGTERM and waits, as Kubernetes does on a rolling restart.
func (m *manager) stop() {
	if m.cmd == nil || m.cmd.ProcessState != nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

// kill sends SIGKILL: no shutdown hooks, no flush.
func (m *manager) kill() {
	_ = m.cmd.Process.Kill()
	<-m.done
	m.cmd = nil
}

func (m *manager) url() string { return "http://" + m.addr + "/mcp" }

func (m *manager) connect(ctx context.Context) (*mcp.ClientSession, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	if m.token != "" {
		hc.Transport = testenv.Bearer(m.token, http.DefaultTransport)
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "v0"}, nil)
	return c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: m.url(), HTTPClient: hc}, nil)
}

func (m *manager) client(t testing.TB) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := m.connect(ctx)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// call invokes a tool and returns its text and whether it was a tool error.
func call(ctx context.Context, cs *mcp.ClientSession, tool string, args map[string]any) (string, bool, error) {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "", false, err
	}
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n"), res.IsError, nil
}

// mustCall fails the test unless the tool call succeeds.
func mustCall(t testing.TB, cs *mcp.ClientSession, tool string, args map[string]any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	text, isErr, err := call(ctx, cs, tool, args)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if isErr {
		t.Fatalf("%s: tool error: %s", tool, text)
	}
	return text
}

func newNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// want explains, for testenv.Eventually, how a field differs ("" when it
// does not).
func want(field, got, want string) string {
	if got == want {
		return ""
	}
	return fmt.Sprintf("%s is %q, want %q", field, got, want)
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	k := testEnv.ControlPlane.KubeCtl()
	stdout, stderr, err := k.Run(args...)
	if err != nil {
		t.Fatalf("kubectl %v: %v %s", args, err, readAll(stderr))
	}
	return readAll(stdout)
}

// readAll reads a command's output; a read error only shortens it.
func readAll(r io.Reader) string {
	data, _ := io.ReadAll(r)
	return string(data)
}
