package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Defaults of the installer (config/default): where the MCP Service is.
const (
	DefaultNamespace = "mcp-session-operator-system"
	DefaultService   = "mcp-session-operator-mcp"
	// mcpPortName is the Service port that serves MCP.
	mcpPortName = "mcp"
	// setupTimeout bounds every step of reaching the server through the
	// Kubernetes API (a lookup, opening a port-forward).
	setupTimeout = 20 * time.Second
)

// Kube reaches the server through the user's kubeconfig: a port-forward to
// a Ready pod behind the operator's MCP Service (or, with URL set, that URL
// directly), with a token from Tokens, or minted by TokenRequest for
// ServiceAccount when Tokens is nil. Everything is set up on first use and
// again after a failure (a pod that went away), so that the bridge starts
// at once, answers each request with what is wrong while something is, and
// recovers without a restart.
type Kube struct {
	// Kubeconfig is the user's client configuration (--kubeconfig,
	// --context).
	Kubeconfig clientcmd.ClientConfig
	// Namespace and Service name the operator's MCP Service.
	Namespace, Service string
	// URL, when set, is used instead of a port-forward.
	URL string
	// Tokens, when set, supply the token (--token-file).
	Tokens TokenSource
	// ServiceAccount (namespace and name) to mint tokens for when Tokens
	// is nil, for Audience.
	ServiceAccount [2]string
	Audience       string
	Log            *slog.Logger

	mu      sync.Mutex
	cfg     *rest.Config
	cs      kubernetes.Interface
	hc      *http.Client
	forward *forward
}

var _ Upstream = (*Kube)(nil)

// Open returns the server's URL (through a live port-forward) and the
// client to reach it with, setting up what is missing.
func (k *Kube) Open(ctx context.Context) (string, *http.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.clients(); err != nil {
		return "", nil, err
	}
	if k.URL != "" {
		return k.URL, k.hc, nil
	}
	if k.forward == nil || k.forward.closed() {
		ctx, cancel := context.WithTimeout(ctx, setupTimeout)
		defer cancel()
		f, err := k.startForward(ctx)
		if err != nil {
			return "", nil, err
		}
		k.forward = f
	}
	return k.forward.url, k.hc, nil
}

// Close stops the port-forward, if any.
func (k *Kube) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.forward != nil {
		k.forward.stop()
	}
}

// clients loads the kubeconfig and builds the clients, once it succeeds.
func (k *Kube) clients() error {
	if k.cs != nil {
		return nil
	}
	cfg, err := k.Kubeconfig.ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig (--kubeconfig, else $KUBECONFIG, else ~/.kube/config): %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = setupTimeout
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	tokens := k.Tokens
	if tokens == nil {
		tokens = &TokenRequest{ServiceAccounts: cs.CoreV1(), Namespace: k.ServiceAccount[0], Name: k.ServiceAccount[1], Audience: k.Audience, Log: k.Log}
	}
	k.cfg, k.cs, k.hc = cfg, cs, NewHTTPClient(tokens, nil)
	return nil
}

// forward is a running port-forward to one pod.
type forward struct {
	url  string
	pod  string
	done chan struct{}
	stop context.CancelFunc
}

func (f *forward) closed() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// startForward finds a Ready pod behind the Service and forwards a local
// loopback port to its MCP port.
func (k *Kube) startForward(ctx context.Context) (*forward, error) {
	pod, port, err := k.readyEndpoint(ctx)
	if err != nil {
		return nil, err
	}
	reqURL := k.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(k.Namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(k.cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward: %w", err)
	}
	// As kubectl port-forward does: over websockets, falling back to SPDY
	// for an apiserver that cannot upgrade to them.
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, reqURL)
	if ws, err := portforward.NewSPDYOverWebsocketDialer(reqURL, k.cfg); err == nil {
		dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}
	fwdCtx, stop := context.WithCancel(context.Background())
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(fwdCtx, dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, ready, io.Discard, io.Discard)
	if err != nil {
		stop()
		return nil, fmt.Errorf("port-forward: %w", err)
	}
	f := &forward{pod: pod, done: make(chan struct{}), stop: stop}
	errc := make(chan error, 1)
	go func() {
		defer close(f.done)
		err := pf.ForwardPorts()
		errc <- err
		if err != nil && k.Log != nil {
			k.Log.Warn("port-forward ended; the next request opens a new one", "pod", k.Namespace+"/"+pod, "error", err.Error())
		}
	}()
	select {
	case <-ready:
	case err := <-errc:
		stop()
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", k.Namespace, pod, err)
	case <-ctx.Done():
		stop()
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", k.Namespace, pod, ctx.Err())
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return nil, fmt.Errorf("port-forward to pod %s/%s: no local port: %v", k.Namespace, pod, err)
	}
	f.url = fmt.Sprintf("http://127.0.0.1:%d/mcp", ports[0].Local)
	if k.Log != nil {
		k.Log.Info("forwarding to the MCP server", "pod", k.Namespace+"/"+pod, "local", f.url)
	}
	return f, nil
}

// readyEndpoint returns a Ready pod behind the Service and the port its
// MCP listener has there.
func (k *Kube) readyEndpoint(ctx context.Context) (pod string, port int, err error) {
	where := fmt.Sprintf("Service %s/%s", k.Namespace, k.Service)
	svc, err := k.cs.CoreV1().Services(k.Namespace).Get(ctx, k.Service, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", 0, fmt.Errorf("%s not found: is the operator installed in namespace %s? (--namespace)", where, k.Namespace)
	case err != nil:
		return "", 0, fmt.Errorf("looking up %s: %w", where, err)
	}
	portName := mcpPortName
	if len(svc.Spec.Ports) == 1 {
		portName = svc.Spec.Ports[0].Name
	}
	slices, err := k.cs.DiscoveryV1().EndpointSlices(k.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + k.Service})
	if err != nil {
		return "", 0, fmt.Errorf("looking up the pods behind %s: %w", where, err)
	}
	for _, s := range slices.Items {
		p := slicePort(s, portName)
		if p == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready && e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
				return e.TargetRef.Name, p, nil
			}
		}
	}
	return "", 0, errors.New("no Ready pod behind " + where + ": the MCP server is down or starting (kubectl get pods -n " + k.Namespace + ")")
}

func slicePort(s discoveryv1.EndpointSlice, name string) int {
	for _, p := range s.Ports {
		if p.Port != nil && (p.Name == nil && name == "" || p.Name != nil && *p.Name == name) &&
			(p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
			return int(*p.Port)
		}
	}
	return 0
}
