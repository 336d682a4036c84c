//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	authenticationv1 "k8s.io/api/authentication/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// serviceURL is the MCP endpoint through the Service's ClusterIP, which
// kube-proxy routes from this host as from any pod.
func (h *harness) serviceURL() string {
	h.t.Helper()
	svc, err := h.cs.CoreV1().Services(installNamespace).Get(h.ctx, serviceName, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return fmt.Sprintf("http://%s:8090/mcp", svc.Spec.ClusterIP)
}

// waitRouted waits until the MCP Service routes only to the manager pods
// that are Ready now and answers through its ClusterIP (the listener's own
// /readyz, no token needed) several times in a row, and returns the MCP
// URL. A pod is Ready a moment before kube-proxy routes a new Service, or
// new endpoints, to it, and a replaced pod's address can stay in the
// rules for a moment after it is gone: an agent that connects then is
// refused or hangs. Each attempt opens a new connection, so each is
// balanced anew across the endpoints.
func (h *harness) waitRouted() string {
	h.t.Helper()
	url := h.serviceURL()
	readyz := strings.TrimSuffix(url, "/mcp") + "/readyz"
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	const inARow = 8
	deadline := time.Now().Add(time.Minute)
	answered := 0
	for {
		err := h.endpointsMatchPods()
		if err == nil {
			err = probe(h.ctx, client, readyz)
		}
		if err != nil {
			answered = 0
		} else if answered++; answered == inARow {
			return url
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the MCP Service is not served at %s a minute after the operator is Ready: %v\n%s", readyz, err, h.describeOperator())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// probe sends GET url on a new connection and wants 200.
func probe(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// endpointsMatchPods says why the MCP Service's ready endpoints are not
// exactly the addresses of the manager pods that are Ready and not
// terminating, or nil when they are.
func (h *harness) endpointsMatchPods() error {
	pods, err := h.cs.CoreV1().Pods(installNamespace).List(h.ctx, metav1.ListOptions{LabelSelector: managerSelector})
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && podReady(p) && p.Status.PodIP != "" {
			want[p.Status.PodIP] = true
		}
	}
	eps, err := h.cs.DiscoveryV1().EndpointSlices(installNamespace).List(h.ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + serviceName})
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, s := range eps.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				for _, a := range e.Addresses {
					have[a] = true
				}
			}
		}
	}
	if len(want) == 0 || !maps.Equal(want, have) {
		return fmt.Errorf("the Service's ready endpoints %v are not the Ready manager pods' addresses %v", slices.Sorted(maps.Keys(have)), slices.Sorted(maps.Keys(want)))
	}
	return nil
}

// token mints a token for a service account, for the server's audience,
// as the kubelet does for the agent's projected volume.
func (h *harness) token(ns, sa string) string {
	h.t.Helper()
	tr, err := h.cs.CoreV1().ServiceAccounts(ns).CreateToken(h.ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return tr.Status.Token
}

// connect opens an MCP session with the go-sdk's Streamable HTTP client.
func connect(ctx context.Context, url, token string) (*mcp.ClientSession, error) {
	return connectVia(ctx, url, token, http.DefaultTransport)
}

func connectVia(ctx context.Context, url, token string, rt http.RoundTripper) (*mcp.ClientSession, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t := &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{
		Transport: testenv.Bearer(token, rt), Timeout: 10 * time.Second}}
	c := mcp.NewClient(&mcp.Implementation{Name: "cluster-test", Version: "v0.0.1"}, nil)
	return c.Connect(ctx, t, nil)
}

// call invokes a tool and returns its text; a tool error is an error.
func call(ctx context.Context, cs *mcp.ClientSession, tool string, args map[string]any) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "", fmt.Errorf("%s: %w", tool, err)
	}
	var text []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	if res.IsError {
		return "", fmt.Errorf("%s refused: %s", tool, strings.Join(text, "\n"))
	}
	return strings.Join(text, "\n"), nil
}

// mustCall connects, calls one tool and closes, failing the test on error.
func (h *harness) mustCall(url, token, tool string, args map[string]any) string {
	h.t.Helper()
	cs, err := connect(h.ctx, url, token)
	if err != nil {
		h.t.Fatalf("connect %s: %v\n%s", url, err, h.describeOperator())
	}
	defer cs.Close()
	out, err := call(h.ctx, cs, tool, args)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// writer appends messages to one session through the Service for as long
// as it runs, reconnecting after every failure, and records each message
// the server acknowledged and when: the proof that nothing acknowledged is
// lost, and the measure of how long the endpoint was away.
type writer struct {
	url, token, ns, session string

	mu       sync.Mutex
	acked    []string
	ackTimes []time.Time
	failures int
	// errs holds each distinct failure the first time it happened.
	errs []string
}

func (w *writer) run(ctx context.Context) {
	var cs *mcp.ClientSession
	defer func() {
		if cs != nil {
			cs.Close()
		}
	}()
	for n := 0; ctx.Err() == nil; n++ {
		if cs == nil {
			var err error
			if cs, err = connectVia(ctx, w.url, w.token, tracer{w}); err != nil {
				w.fail(err)
				cs = nil
				time.Sleep(100 * time.Millisecond)
				continue
			}
		}
		// Every attempt has its own content: a call that failed may still
		// have been stored, and must not be confused with a later one.
		content := fmt.Sprintf("write %d", n)
		if _, err := call(ctx, cs, "add_message", map[string]any{"session_id": w.session, "namespace": w.ns, "role": "user", "content": content}); err != nil {
			w.fail(err)
			cs.Close()
			cs = nil
			time.Sleep(100 * time.Millisecond)
			continue
		}
		w.mu.Lock()
		w.acked = append(w.acked, content)
		w.ackTimes = append(w.ackTimes, time.Now())
		w.mu.Unlock()
	}
}

// tracer records every HTTP answer that is not a success, with what was
// asked: what a failed call looked like on the wire.
type tracer struct{ w *writer }

func (t tracer) RoundTrip(r *http.Request) (*http.Response, error) {
	var method string
	if r.Body != nil && r.GetBody != nil {
		if b, err := r.GetBody(); err == nil {
			var msg struct{ Method string }
			_ = json.NewDecoder(b).Decode(&msg)
			method = msg.Method
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.StatusCode >= 300 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		t.w.note(fmt.Errorf("HTTP %s %s (method %q, Mcp-Protocol-Version %q, Mcp-Session-Id %q) answered %d: %s",
			r.Method, r.URL.Path, method, r.Header.Get("Mcp-Protocol-Version"), r.Header.Get("Mcp-Session-Id"), resp.StatusCode, body))
	}
	return resp, err
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	w.failures++
	w.mu.Unlock()
	w.note(err)
}

// note keeps err if no failure like it was seen before.
func (w *writer) note(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	msg := err.Error()
	for _, e := range w.errs {
		if strings.HasSuffix(e, msg) {
			return
		}
	}
	w.errs = append(w.errs, time.Now().Format("15:04:05.000 ")+msg)
}

func (w *writer) status() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d acknowledged, %d failed attempts; the failures, each the first time:\n  %s",
		len(w.acked), w.failures, strings.Join(w.errs, "\n  "))
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// longestGap is the longest time between two acknowledged writes after
// index from: how long the endpoint was unavailable.
func (w *writer) longestGap(from int) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var gap time.Duration
	for i := max(from, 1); i < len(w.ackTimes); i++ {
		gap = max(gap, w.ackTimes[i].Sub(w.ackTimes[i-1]))
	}
	return gap
}
