//go:build cluster

package cluster

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The Secret config/postgres reads the store's URL from.
const storeSecret = "mcp-session-operator-store"

// TestPostgresInstallFailover switches the running install to
// dist/install-postgres.yaml (config/postgres: two replicas on a
// PostgreSQL that make test-cluster runs on this node), then kills the pod
// that serves a writing client mid-stream: every acknowledged write is
// there afterwards, and the test prints how long the Service was away.
func TestPostgresInstallFailover(t *testing.T) {
	h := newHarness(t)
	installer, url := os.Getenv("INSTALLER_POSTGRES"), os.Getenv("POSTGRES_URL")
	if installer == "" || url == "" {
		t.Fatal("INSTALLER_POSTGRES and POSTGRES_URL are not set: run these tests with `make test-cluster`")
	}
	h.phase("1. the store's URL in a Secret, dist/install-postgres.yaml applied over the install", func() {
		h.ensureAgentAccount()
		if _, err := h.kubectlErr("", "create", "secret", "generic", storeSecret, "-n", installNamespace, "--from-literal=url="+url); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
			t.Fatal(err)
		}
		// --force-conflicts: the upgrade before set the image with kubectl set.
		h.kubectl("apply", "--server-side", "--force-conflicts", "-f", installer)
	})
	var pods []corev1.Pod
	h.phase("2. two replicas Ready on the new spec, no volume, the old pod gone", func() {
		pods = h.waitReplicas(2, 4*time.Minute)
		h.wantNoClaim(pods)
	})

	url2, token := h.waitRouted(), h.token(agentNamespace, agentAccount)
	h.phase("3. kill the pod serving a writing client mid-stream: no acknowledged write lost", func() {
		gap := h.writeThrough(url2, token, "pg-failover", func() {
			p := h.servingPod(h.waitReplicas(2, time.Minute))
			t.Logf("pod %s serves the writer; SIGKILL of its manager and force-deleting it", p.Name)
			pid, err := containerProcess(p.Status.ContainerStatuses[0].ContainerID, "/manager")
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			h.kubectl("delete", "pod", "-n", installNamespace, p.Name, "--grace-period=0", "--force", "--wait=false")
			h.waitReplicas(2, 4*time.Minute)
		})
		t.Logf("the Service answered again %.1fs after the pod serving traffic was killed (longest gap between acknowledged writes)", gap.Seconds())
	})
}

// wantNoClaim fails the test for each pod that mounts a claim: on the
// PostgreSQL store no replica needs a volume.
func (h *harness) wantNoClaim(pods []corev1.Pod) {
	h.t.Helper()
	for _, p := range pods {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				h.t.Errorf("pod %s mounts claim %s on the PostgreSQL store", p.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
}

// waitReplicas waits until exactly n manager pods run, all Ready, all of
// the newest spec (none terminating, none of an older ReplicaSet left),
// and returns them.
func (h *harness) waitReplicas(n int, timeout time.Duration) []corev1.Pod {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		list, err := h.cs.CoreV1().Pods(installNamespace).List(h.ctx, metav1.ListOptions{LabelSelector: managerSelector})
		if err == nil {
			ready, rs := []corev1.Pod{}, map[string]bool{}
			for _, p := range list.Items {
				if ref := metav1.GetControllerOf(&p); ref != nil {
					rs[ref.Name] = true
				}
				if p.DeletionTimestamp == nil && podReady(&p) {
					ready = append(ready, p)
				}
			}
			if len(ready) == n && len(list.Items) == n && len(rs) == 1 {
				return ready
			}
			for i := range list.Items {
				if why := stuck(&list.Items[i]); why != "" {
					h.t.Fatalf("pod %s %s\n%s", list.Items[i].Name, why, h.describeOperator())
				}
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("not %d Ready manager pods of one ReplicaSet within %s\n%s", n, timeout, h.describeOperator())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// servingPod is the manager pod that holds an established connection on
// the MCP port from outside the pod: the one the writing client's
// keep-alive connection landed on. It reads the pods' TCP tables through
// their managers' /proc (the node is this machine).
func (h *harness) servingPod(pods []corev1.Pod) corev1.Pod {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range pods {
			pid, err := containerProcess(p.Status.ContainerStatuses[0].ContainerID, "/manager")
			if err != nil {
				h.t.Fatal(err)
			}
			if n, err := mcpClients(pid); err == nil && n > 0 {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatal("no manager pod holds a client connection on the MCP port")
	return corev1.Pod{}
}

// mcpClients counts the established TCP connections to port 8090 from
// addresses other than loopback in the network namespace of process pid.
func mcpClients(pid int) (int, error) {
	n := 0
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			return 0, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st ...; addresses are HEX:PORT.
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "01" || !strings.HasSuffix(fields[1], ":1F9A") {
				continue
			}
			remote := fields[2][:strings.Index(fields[2], ":")]
			if remote == "0100007F" || remote == "00000000000000000000000001000000" || strings.HasSuffix(remote, "0100007F") {
				continue // loopback: the readiness check asking its own listener
			}
			n++
		}
		f.Close()
	}
	return n, nil
}
