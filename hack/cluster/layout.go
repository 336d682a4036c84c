package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// The cluster's fixed addresses. Every range is in a documentation block
// (RFC 5737), so nothing the cluster sends can leave for a real network:
// pods on a bridge in 198.51.100.128/25, Services in 198.51.100.0/25. Not
// 203.0.113.0/24: this machine reaches its package proxies at an address in
// that block, which a pod route over it would cut off (up checks).
const (
	nodeName      = "mcp-node"
	podCIDR       = "198.51.100.128/25"
	podGateway    = "198.51.100.129"
	serviceCIDR   = "198.51.100.0/25"
	apiServiceIP  = "198.51.100.1"
	dnsServiceIP  = "198.51.100.10"
	clusterDomain = "cluster.local"
	bridgeName    = "mcpcni0"
	apiPort       = 6443
	etcdPort      = 12379
	etcdPeerPort  = 12380

	// provisionerName serves the default StorageClass.
	provisionerName = "mcp-cluster.local/dir"
	// pauseImage is the sandbox image: hack/cluster/pause, imported
	// before the kubelet starts, since containerd only pulls it when missing.
	pauseImage = "localhost/mcp-cluster/pause:1.0"
	// corednsImage is CoreDNS built from its Go module.
	corednsImage = "localhost/mcp-cluster/coredns:1.15.0"
)

// layout is where everything of one cluster lives, and the machine facts it
// was started with. It is saved in the state file so `down` and `load` need
// only --dir.
type layout struct {
	Dir       string `json:"dir"`
	Assets    string `json:"assets"`
	ImageTool string `json:"imageTool"`
	Pause     string `json:"pause"`
	NodeIP    string `json:"nodeIP"`
}

func newLayout(dir, assets, imageTool, pause, nodeIP string) (*layout, error) {
	var err error
	for _, p := range []*string{&assets, &imageTool, &pause} {
		if *p, err = filepath.Abs(*p); err != nil {
			return nil, err
		}
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "coredns"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("%s is missing from --assets %s (build it with hack/control-plane.sh --node): %w", b, assets, err)
		}
	}
	for _, f := range []string{imageTool, pause} {
		if _, err := os.Stat(f); err != nil {
			return nil, err
		}
	}
	if nodeIP == "" {
		if nodeIP, err = defaultRouteIPv4(); err != nil {
			return nil, fmt.Errorf("finding the node address (pass --node-ip): %w", err)
		}
	}
	if ip := net.ParseIP(nodeIP); ip == nil || ip.To4() == nil || ip.IsLoopback() {
		// A loopback address cannot be advertised: it would become the
		// endpoint of the kubernetes Service, which pods cannot reach.
		return nil, fmt.Errorf("--node-ip %q must be a non-loopback IPv4 address of this machine", nodeIP)
	}
	l := &layout{Dir: dir, Assets: assets, ImageTool: imageTool, Pause: pause, NodeIP: nodeIP}
	// Unix socket paths are limited to 108 bytes.
	if n := len(l.containerdSocket()); n > 100 {
		return nil, fmt.Errorf("--dir %s is too deep: the containerd socket path would be %d bytes (at most 100)", dir, n)
	}
	return l, nil
}

func (l *layout) path(elem ...string) string {
	return filepath.Join(append([]string{l.Dir}, elem...)...)
}

func (l *layout) bin(name string) string   { return filepath.Join(l.Assets, name) }
func (l *layout) kubeconfig() string       { return l.path("kubeconfig") }
func (l *layout) containerdSocket() string { return l.path("run", "containerd.sock") }
func (l *layout) kubeletRoot() string      { return l.path("kubelet") }
func (l *layout) apiServerURL() string     { return fmt.Sprintf("https://%s:%d", l.NodeIP, apiPort) }
func (l *layout) etcdURL() string          { return fmt.Sprintf("http://127.0.0.1:%d", etcdPort) }
func (l *layout) componentKubeconfig(name string) string {
	return l.path("pki", name+".kubeconfig")
}

// defaultRouteIPv4 is the first IPv4 address of the interface that carries
// the default route: the address other hosts know this machine by.
func defaultRouteIPv4() (string, error) {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return "", err
	}
	var iface string
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == "00000000" {
			iface = f[0]
			break
		}
	}
	if iface == "" {
		return "", errors.New("no default route")
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return "", err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.String(), nil
		}
	}
	return "", fmt.Errorf("interface %s has no IPv4 address", iface)
}

// state is what `up` records for `down`: the machine as it was, and every
// process it started.
type state struct {
	Layout   *layout   `json:"layout"`
	Snapshot *snapshot `json:"snapshot"`
	Daemons  []daemon  `json:"daemons"`
}

func statePath(dir string) string { return filepath.Join(dir, "state.json") }

func readState(dir string) (*state, error) {
	b, err := os.ReadFile(statePath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no cluster in %s (start one with make cluster)", dir)
	}
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("reading %s: %w", statePath(dir), err)
	}
	return &st, nil
}

// save writes the state atomically: a crash between two daemons' starts must
// leave a file that names every process already started.
func (st *state) save() error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	p := statePath(st.Layout.Dir)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
