package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// up starts the cluster: it records the machine first, then starts each
// component once the ones it needs answer.
func up(ctx context.Context, l *layout) error {
	if os.Geteuid() != 0 {
		return errors.New("the kubelet and containerd need root")
	}
	for _, tool := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "nft", "nfacct", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing (hack/cluster.sh installs the Debian packages): %w", tool, err)
		}
	}
	if err := checkRanges(l.NodeIP); err != nil {
		return err
	}
	if old, err := readState(l.Dir); err == nil {
		for _, d := range old.Daemons {
			if d.alive() {
				return fmt.Errorf("a cluster is already running from %s (%s, pid %d): make cluster-down first", l.Dir, d.Name, d.PID)
			}
		}
		fmt.Fprintln(os.Stderr, "cluster: cleaning up after an earlier cluster that did not stop cleanly")
		if err := down(l.Dir); err != nil {
			return fmt.Errorf("cleaning up the earlier cluster: %w", err)
		}
	}
	if err := claimMachine(l.Dir); err != nil {
		return err
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return err
	}
	snap, err := takeSnapshot()
	if err != nil {
		return fmt.Errorf("recording the machine's state: %w", err)
	}
	st := &state{Layout: l, Snapshot: snap}
	// From here on, down() can undo whatever happens.
	if err := st.save(); err != nil {
		return err
	}
	step := stepper()
	for _, d := range []string{"logs", "pki", "etcd", "run", "containerd", "cni/net.d", "cni/ipam", "kubelet", "kubelet-plugins", "pod-logs", "kcm-flex", "pv"} {
		if err := os.MkdirAll(l.path(d), 0o755); err != nil {
			return err
		}
	}
	if err := writePKI(l); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	v := configValues(l)
	for path, t := range map[string]*template.Template{
		l.path("containerd", "config.toml"):               containerdConfig,
		l.path("cni", "net.d", "10-mcp-cluster.conflist"): cniConfig,
		l.path("kubelet.yaml"):                            kubeletConfig,
		l.path("kube-proxy.yaml"):                         proxyConfig,
	} {
		if err := writeTemplate(path, t, v); err != nil {
			return err
		}
	}
	if err := os.WriteFile(l.path("resolv.conf"), []byte("# pods with dnsPolicy Default get no resolver: nothing outside the cluster is reachable\n"), 0o644); err != nil {
		return err
	}
	step("certificates and configuration")

	if _, err := startDaemon(st, "etcd", etcdArgs(l), nil); err != nil {
		return err
	}
	if err := waitHTTP(ctx, l.etcdURL()+"/health", st, "etcd"); err != nil {
		return err
	}
	if _, err := startDaemon(st, "kube-apiserver", apiserverArgs(l), nil); err != nil {
		return err
	}
	cs, err := clientset(l.kubeconfig())
	if err != nil {
		return err
	}
	if err := waitFor(ctx, st, "kube-apiserver", func(ctx context.Context) (bool, error) {
		b, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(b) == "ok", nil
	}); err != nil {
		return err
	}
	step("etcd and kube-apiserver")

	for name, args := range map[string][]string{
		"kube-controller-manager": controllerManagerArgs(l),
		"kube-scheduler":          schedulerArgs(l),
	} {
		if _, err := startDaemon(st, name, args, nil); err != nil {
			return err
		}
	}
	if err := routeServicesLocally(); err != nil {
		return err
	}
	// Nothing can be pulled here, and a pull must not even look up a
	// registry's name with the machine's resolver: every pull goes to a
	// proxy on a closed loopback port and fails at once (ErrImagePull).
	noPull := []string{"HTTP_PROXY=" + deadProxy, "HTTPS_PROXY=" + deadProxy, "http_proxy=" + deadProxy, "https_proxy=" + deadProxy, "NO_PROXY=", "no_proxy="}
	if _, err := startDaemon(st, "containerd", []string{"containerd", "--config", l.path("containerd", "config.toml")}, noPull); err != nil {
		return err
	}
	if err := waitFor(ctx, st, "containerd", func(ctx context.Context) (bool, error) {
		return exec.CommandContext(ctx, "ctr", "--address", l.containerdSocket(), "version").Run() == nil, nil
	}); err != nil {
		return err
	}
	for _, img := range []struct{ binary, tag, user string }{
		{l.Pause, pauseImage, "65535:65535"},
		{l.bin("coredns"), corednsImage, "65532:65532"},
	} {
		tar, err := buildImage(ctx, l, img.binary, img.tag, img.user)
		if err != nil {
			return err
		}
		if err := importImage(ctx, l, tar); err != nil {
			return err
		}
	}
	step("controller manager, scheduler, containerd and images")

	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		args []string
	}{
		{"kubelet", kubeletArgs(l)},
		{"kube-proxy", []string{l.bin("kube-proxy"), "--config", l.path("kube-proxy.yaml"), "--v=1"}},
		{"provisioner", []string{self, "provisioner", "--kubeconfig", l.kubeconfig(), "--dir", l.path("pv")}},
	} {
		if _, err := startDaemon(st, d.name, d.args, nil); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, st, "node "+nodeName+" Ready", func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	step("kubelet, kube-proxy and the node Ready")

	if err := applyAddons(ctx, l); err != nil {
		return err
	}
	if err := waitFor(ctx, st, "CoreDNS available", func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas > 0, nil
	}); err != nil {
		return fmt.Errorf("%w\n%s", err, describePods(ctx, cs, "kube-system"))
	}
	step("default StorageClass and CoreDNS")
	return nil
}

// stepper prints each phase with the time it took.
func stepper() func(string) {
	last := time.Now()
	return func(what string) {
		fmt.Printf("cluster: %-45s %6.1fs\n", what, time.Since(last).Seconds())
		last = time.Now()
	}
}

// waitFor polls cond every 250 ms until it holds, ctx ends, or one of the
// cluster's processes has died; the error then names what did not come up
// and ends with the tail of that process's log.
func waitFor(ctx context.Context, st *state, what string, cond func(context.Context) (bool, error)) error {
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for _, d := range st.Daemons {
			if !d.alive() {
				return false, fmt.Errorf("%s exited:\n%s", d.Name, tail(d.Log, 30))
			}
		}
		return cond(ctx)
	})
	if err != nil {
		var logs strings.Builder
		for _, d := range st.Daemons {
			if strings.HasPrefix(what, d.Name) || strings.Contains(what, d.Name) {
				logs.WriteString(tail(d.Log, 30))
			}
		}
		return fmt.Errorf("waiting for %s: %w\n%s", what, err, logs.String())
	}
	return nil
}

func waitHTTP(ctx context.Context, url string, st *state, what string) error {
	return waitFor(ctx, st, what, func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// tail returns the last n lines of a log file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "---- " + path + "\n" + strings.Join(lines, "\n") + "\n"
}

func clientset(kubeconfig string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = 10 * time.Second
	return kubernetes.NewForConfig(cfg)
}

// routeServicesLocally keeps Service addresses on this machine. The host
// reaches a Service through kube-proxy's DNAT in OUTPUT; a packet that
// misses it (while kube-proxy syncs) would otherwise follow the default
// route, and this machine's gateway answers any HTTP request with 404, to
// a keep-alive connection the client then reuses. Routed to the pods'
// bridge (created here, before the CNI plugin would), such a packet fails
// here instead. The route goes with the bridge at cluster-down.
func routeServicesLocally() error {
	for _, args := range [][]string{
		{"link", "add", bridgeName, "type", "bridge"},
		{"link", "set", bridgeName, "up"},
		{"route", "add", serviceCIDR, "dev", bridgeName},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// deadProxy is a loopback port nothing listens on.
const deadProxy = "http://127.0.0.1:9"

// buildImage packs one static binary as an image with the project's image
// tool, into the cluster's folder.
func buildImage(ctx context.Context, l *layout, binary, tag, user string) (string, error) {
	if err := os.MkdirAll(l.path("images"), 0o755); err != nil {
		return "", err
	}
	out := l.path("images", filepath.Base(binary)+".tar")
	b, err := exec.CommandContext(ctx, l.ImageTool, "--binary", binary, "--tag", tag, "--user", user, "--out", out).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building image %s: %w: %s", tag, err, b)
	}
	return out, nil
}

// importImage loads an image tarball into the node's image store, where
// the kubelet finds it by its tag and, for an OCI layout naming one
// repository (what hack/image writes), by its digest too: ctr names the
// digest image after --base-name, so an installer pinned to the digest finds
// it without a pull.
func importImage(ctx context.Context, l *layout, tarball string) error {
	args := []string{"--address", l.containerdSocket(), "-n", "k8s.io", "images", "import"}
	if repo, err := archiveRepository(tarball); err == nil && repo != "" {
		args = append(args, "--base-name", repo, "--digests")
	}
	out, err := exec.CommandContext(ctx, "ctr", append(args, tarball)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("importing %s: %w: %s", tarball, err, out)
	}
	fmt.Printf("cluster: imported %s: %s", filepath.Base(tarball), out)
	return nil
}

// archiveRepository is the one repository that an archive's OCI index
// names (io.containerd.image.name, without its tag), or "".
func archiveRepository(tarball string) (string, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			return "", err // io.EOF: no index.json, a docker archive
		}
		if h.Name != "index.json" {
			continue
		}
		var idx struct {
			Manifests []struct{ Annotations map[string]string }
		}
		if err := json.NewDecoder(tr).Decode(&idx); err != nil {
			return "", err
		}
		repo := ""
		for _, m := range idx.Manifests {
			name := m.Annotations["io.containerd.image.name"]
			if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
				name = name[:i]
			}
			if name == "" || (repo != "" && name != repo) {
				return "", nil
			}
			repo = name
		}
		return repo, nil
	}
}

func etcdArgs(l *layout) []string {
	peer := "http://127.0.0.1:" + strconv.Itoa(etcdPeerPort)
	return []string{l.bin("etcd"), "--name", "default", "--data-dir", l.path("etcd"),
		"--listen-client-urls", l.etcdURL(), "--advertise-client-urls", l.etcdURL(),
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "default=" + peer, "--log-level", "warn"}
}

func apiserverArgs(l *layout) []string {
	pki := func(f string) string { return l.path("pki", f) }
	return []string{l.bin("kube-apiserver"),
		"--advertise-address", l.NodeIP, "--bind-address", l.NodeIP, "--secure-port", strconv.Itoa(apiPort),
		"--etcd-servers", l.etcdURL(),
		"--service-cluster-ip-range", serviceCIDR, "--service-node-port-range", "30000-32767",
		"--tls-cert-file", pki("apiserver.crt"), "--tls-private-key-file", pki("apiserver.key"),
		"--client-ca-file", pki("ca.crt"),
		"--kubelet-client-certificate", pki("apiserver-kubelet-client.crt"), "--kubelet-client-key", pki("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority", pki("ca.crt"), "--kubelet-preferred-address-types", "InternalIP",
		"--service-account-issuer", "https://kubernetes.default.svc." + clusterDomain,
		"--service-account-key-file", pki("sa.pub"), "--service-account-signing-key-file", pki("sa.key"),
		"--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
		"--cert-dir", pki("apiserver-generated"), "--profiling=false", "--v=1"}
}

func controllerManagerArgs(l *layout) []string {
	kc := l.componentKubeconfig("controller-manager")
	return []string{l.bin("kube-controller-manager"),
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--bind-address", "127.0.0.1", "--leader-elect=false",
		"--service-account-private-key-file", l.path("pki", "sa.key"), "--root-ca-file", l.path("pki", "ca.crt"),
		"--use-service-account-credentials", "--service-cluster-ip-range", serviceCIDR,
		"--cluster-signing-cert-file", l.path("pki", "ca.crt"), "--cluster-signing-key-file", l.path("pki", "ca.key"),
		// Otherwise it creates /usr/libexec/kubernetes.
		"--flex-volume-plugin-dir", l.path("kcm-flex"), "--v=1"}
}

func schedulerArgs(l *layout) []string {
	kc := l.componentKubeconfig("scheduler")
	return []string{l.bin("kube-scheduler"),
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--bind-address", "127.0.0.1", "--leader-elect=false", "--v=1"}
}

func kubeletArgs(l *layout) []string {
	return []string{l.bin("kubelet"), "--config", l.path("kubelet.yaml"),
		"--kubeconfig", l.componentKubeconfig("kubelet"), "--root-dir", l.kubeletRoot(),
		"--hostname-override", nodeName, "--node-ip", l.NodeIP, "--cert-dir", l.path("pki", "kubelet-generated"), "--v=1"}
}
