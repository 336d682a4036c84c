package main

import (
	"bytes"
	"os"
	"text/template"
)

// The node's configuration files. Every path they name is under the
// cluster's folder, except what the tools hard-code (outsidePaths).

var containerdConfig = template.Must(template.New("containerd").Parse(`version = 2
root = "{{.Dir}}/containerd/root"
state = "{{.Dir}}/containerd/state"

[grpc]
  address = "{{.Socket}}"

[ttrpc]
  address = "{{.Socket}}.ttrpc"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "{{.Dir}}/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    # Only pulled when missing: the image is imported before the kubelet starts.
    sandbox_image = "{{.Pause}}"
    # Root here lacks CAP_SYS_RESOURCE: oom_score_adj cannot go below 0.
    restrict_oom_score_adj = true
    # runc fails when asked for hugetlb limits: with cgroup v1 hybrid,
    # hugetlb is only in the unified hierarchy.
    disable_hugetlb_controller = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "{{.Dir}}/run/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "{{.Dir}}/cni/net.d"
`))

// The pods' network: one bridge, addresses from a documentation block, no
// masquerading (nothing leaves the machine) and no portmap (no host ports),
// so the CNI plugins add no iptables rules of their own.
var cniConfig = template.Must(template.New("cni").Parse(`{
  "cniVersion": "1.0.0",
  "name": "mcp-cluster",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "{{.Bridge}}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "{{.PodCIDR}}", "gateway": "{{.Gateway}}"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "{{.Dir}}/cni/ipam"
      }
    }
  ]
}
`))

var kubeletConfig = template.Must(template.New("kubelet").Parse(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroups are v1 here: allowed with failCgroupV1 false. containerd 1.6
# does not answer RuntimeConfig, so the kubelet uses the driver named here.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://{{.Socket}}
address: {{.NodeIP}}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: {{.Dir}}/pki/ca.crt}
authorization:
  mode: Webhook
tlsCertFile: {{.Dir}}/pki/kubelet-serving.crt
tlsPrivateKeyFile: {{.Dir}}/pki/kubelet-serving.key
clusterDNS: [{{.DNS}}]
clusterDomain: {{.Domain}}
# Not the machine's resolv.conf: pods must never get its resolver.
resolvConf: {{.Dir}}/resolv.conf
podLogsDir: {{.Dir}}/pod-logs
volumePluginDir: {{.Dir}}/kubelet-plugins
# Images cannot be pulled again here: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
failSwapOn: false
serializeImagePulls: false
maxPods: 60
`))

var proxyConfig = template.Must(template.New("kube-proxy").Parse(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: {{.Node}}
clientConnection:
  kubeconfig: {{.Dir}}/pki/kube-proxy.kubeconfig
clusterCIDR: {{.PodCIDR}}
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["{{.NodeIP}}/32"]
iptables:
  # Both keep kube-proxy from changing sysctls (route_localnet and the
  # conntrack table sizes and timeouts).
  localhostNodePorts: false
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
`))

// configValues fills every template.
func configValues(l *layout) map[string]any {
	return map[string]any{
		"Dir": l.Dir, "Socket": l.containerdSocket(), "Pause": pauseImage,
		"Bridge": bridgeName, "PodCIDR": podCIDR, "Gateway": podGateway,
		"NodeIP": l.NodeIP, "DNS": dnsServiceIP, "Domain": clusterDomain, "Node": nodeName,
	}
}

func writeTemplate(path string, t *template.Template, v any) error {
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
