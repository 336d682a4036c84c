//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestOperatorInCluster installs the operator from dist/install.yaml and
// uses it as an agent in the cluster would, then breaks it the ways a
// cluster does: a crashed process, a deleted pod, an upgrade.
func TestOperatorInCluster(t *testing.T) {
	h := newHarness(t)
	h.phase("1. apply dist/install.yaml as make build-installer wrote it", func() {
		h.kubectl("apply", "--server-side", "-f", h.env.installer)
	})
	h.phase("2. operator Ready: its image, PVC bound and mounted, non-root, read-only root; its Service routed", func() {
		op := h.waitOperator(h.env.image, nil)
		h.checkOperatorPod(op, h.env.imageTar)
		h.waitRouted()
	})

	const story = "debug-memory-leak"
	h.phase("3. an agent pod plays the three-day story via the Service's DNS name", func() {
		h.ensureAgentAccount()
		logs := h.runAgent("agent-story", agentAccount, story, corev1.PodSucceeded)
		for _, want := range []string{"DAY 3", "What the assistant sees on resume", "session terminated"} {
			if !strings.Contains(logs, want) {
				t.Fatalf("the agent's output lacks %q:\n%s", want, logs)
			}
		}
	})
	h.phase("4. kubectl get mcpsessions shows the session's phase and counts", func() {
		h.waitSessionRow(story, map[string]string{"PHASE": "Terminated", "MESSAGES": "5", "PROJECT": "E-Commerce API",
			"OWNER": "system:serviceaccount:" + agentNamespace + ":" + agentAccount})
	})

	url, token := h.serviceURL(), h.token(agentNamespace, agentAccount)
	exportStory := func() string {
		return h.mustCall(url, token, "export_session", map[string]any{"session_id": story, "namespace": agentNamespace})
	}
	before := exportStory()

	h.phase("5. SIGKILL of the manager mid-stream: the restarted container has every acknowledged write", func() {
		gap := h.writeThrough(url, token, "crash", func() {
			op := h.waitOperator(h.env.image, nil)
			pid, err := containerProcess(op.Status.ContainerStatuses[0].ContainerID, "/manager")
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			restarts := op.Status.ContainerStatuses[0].RestartCount
			h.waitOperator(h.env.image, func(p *corev1.Pod) bool {
				return p.Name == op.Name && p.Status.ContainerStatuses[0].RestartCount > restarts
			})
		})
		t.Logf("endpoint unavailable for %.1fs after the SIGKILL", gap.Seconds())
	})
	h.phase("6. delete the operator pod mid-stream: its replacement has every acknowledged write", func() {
		gap := h.writeThrough(url, token, "failover", func() {
			op := h.waitOperator(h.env.image, nil)
			h.kubectl("delete", "pod", "-n", installNamespace, op.Name, "--wait=false")
			h.waitOperator(h.env.image, func(p *corev1.Pod) bool { return p.Name != op.Name })
		})
		t.Logf("endpoint unavailable for %.1fs while the pod was replaced", gap.Seconds())
	})
	h.phase("7. roll the Deployment to a second image tag (upgrade): data intact", func() {
		gap := h.writeThrough(url, token, "upgrade", func() {
			h.kubectl("set", "image", "-n", installNamespace, "deployment/"+deploymentName, "manager="+h.env.upgradeImage)
			op := h.waitOperator(h.env.upgradeImage, nil)
			h.checkOperatorPod(op, h.env.upgradeImageTar)
		})
		t.Logf("endpoint unavailable for %.1fs during the upgrade", gap.Seconds())
		if after := exportStory(); after != before {
			t.Fatalf("the story's session changed across restarts and the upgrade:\nbefore: %s\nafter:  %s", before, after)
		}
	})
	h.phase("8. refusals: a service account with no binding, a request with no token", func() {
		h.kubectl("create", "serviceaccount", "-n", agentNamespace, "unbound")
		logs := h.runAgent("agent-unbound", "unbound", "not-allowed", corev1.PodFailed)
		want := `forbidden: system:serviceaccount:` + agentNamespace + `:unbound cannot create mcpsessions/not-allowed in namespace "` + agentNamespace + `"`
		if !strings.Contains(logs, want) {
			t.Fatalf("the unbound agent's output lacks the refusal %q:\n%s", want, logs)
		}
		req, _ := http.NewRequestWithContext(h.ctx, http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("no token: got %d with WWW-Authenticate %q, want 401 with a Bearer challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}

// waitOperator waits for a Ready operator pod running image that also
// satisfies cond (nil: any).
func (h *harness) waitOperator(image string, cond func(*corev1.Pod) bool) *corev1.Pod {
	h.t.Helper()
	p, err := h.waitPods(installNamespace, managerSelector, 4*time.Minute, "the operator pod running "+image, func(p *corev1.Pod) bool {
		return podReady(p) && p.Spec.Containers[0].Image == image && len(p.Status.ContainerStatuses) == 1 &&
			p.Status.ContainerStatuses[0].State.Running != nil && (cond == nil || cond(p))
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// checkOperatorPod checks what the runtime did, not only what the pod
// asked for: the image (by the digest make image printed for the tarball:
// loaded into the node, the image keeps it, so the runtime reports it), the
// claim, and the manager process's user and mounts as the node sees them.
func (h *harness) checkOperatorPod(p *corev1.Pod, imageTar string) {
	h.t.Helper()
	cst := p.Status.ContainerStatuses[0]
	digest, err := manifestDigest(imageTar)
	if err != nil {
		h.t.Fatal(err)
	}
	if !strings.HasSuffix(cst.ImageID, "@"+digest) {
		h.t.Errorf("the operator runs image %s, want the digest %s that make image printed for %s", cst.ImageID, digest, imageTar)
	}
	pvc, err := h.cs.CoreV1().PersistentVolumeClaims(installNamespace).Get(h.ctx, pvcName, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		h.t.Errorf("claim %s is %s, want Bound", pvcName, pvc.Status.Phase)
	}
	pid, err := containerProcess(cst.ContainerID, "/manager")
	if err != nil {
		h.t.Fatal(err)
	}
	if uids, err := processUIDs(pid); err != nil || uids != "65532 65532 65532 65532" {
		h.t.Errorf("the manager runs with UIDs %q (%v), want 65532 for all", uids, err)
	}
	if opts, err := processMount(pid, "/"); err != nil || !strings.HasPrefix(opts, "ro") {
		h.t.Errorf("the manager's root filesystem is mounted %q (%v), want read-only", opts, err)
	}
	if opts, err := processMount(pid, "/data"); err != nil || !strings.HasPrefix(opts, "rw") {
		h.t.Errorf("the manager's /data is mounted %q (%v), want the claim read-write", opts, err)
	}
}

// ensureAgentAccount applies the sample agent's ServiceAccount and
// RoleBinding, as a user following the README would.
func (h *harness) ensureAgentAccount() {
	h.t.Helper()
	if _, err := h.kubectlErr("", "create", "namespace", agentNamespace); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
		h.t.Fatal(err)
	}
	_, others := h.samplePod()
	if _, err := h.kubectlErr(others, "apply", "-f", "-"); err != nil {
		h.t.Fatal(err)
	}
}

// runAgent runs the sample agent pod (config/samples) with the agent image
// and the given service account, playing the story on session, waits for
// it to end in phase want, and returns its output.
func (h *harness) runAgent(name, account, session string, want corev1.PodPhase) string {
	h.t.Helper()
	pod, _ := h.samplePod()
	pod.Name = name
	pod.Labels = map[string]string{"test": name}
	pod.Spec.ServiceAccountName = account
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	c := &pod.Spec.Containers[0]
	c.Image = h.env.agentImage
	c.Args = []string{"--session", session, "--namespace", agentNamespace}
	pod.Namespace = agentNamespace
	p, logs := h.runPod(pod, 3*time.Minute, "agent pod")
	if p.Status.Phase != want {
		h.t.Fatalf("agent pod %s ended %s, want %s\n%s", name, p.Status.Phase, want, h.diagnose(agentNamespace, name))
	}
	return logs
}

// waitSessionRow polls `kubectl get mcpsessions` until the session's row
// has the wanted columns (the status counts are synced within seconds).
func (h *harness) waitSessionRow(name string, want map[string]string) {
	h.t.Helper()
	var out string
	deadline := time.Now().Add(time.Minute)
	for {
		out = h.kubectl("get", "mcpsessions", "-n", agentNamespace)
		row := tableRow(out, name)
		ok := row != nil
		for col, v := range want {
			ok = ok && row[col] == v
		}
		if ok {
			h.t.Logf("kubectl get mcpsessions -n %s:\n%s", agentNamespace, out)
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("kubectl get mcpsessions never showed %v for %s:\n%s", want, name, out)
		}
		time.Sleep(time.Second)
	}
}

// tableRow parses kubectl's table output by the header's column offsets
// (values such as the project may hold spaces) and returns name's row.
func tableRow(table, name string) map[string]string {
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	if len(lines) < 2 {
		return nil
	}
	header := lines[0]
	var cols []string
	var starts []int
	for i := 0; i < len(header); {
		if header[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(header) && header[j] != ' ' {
			j++
		}
		cols, starts = append(cols, header[i:j]), append(starts, i)
		i = j
	}
	for _, line := range lines[1:] {
		row := map[string]string{}
		for k, c := range cols {
			end := len(line)
			if k+1 < len(starts) && starts[k+1] < end {
				end = starts[k+1]
			}
			if starts[k] < len(line) {
				row[c] = strings.TrimSpace(line[starts[k]:end])
			}
		}
		if row["NAME"] == name {
			return row
		}
	}
	return nil
}

// writeThrough creates a session, keeps writing to it through the Service
// while disrupt runs, and checks afterwards that every acknowledged write
// is there, in order. It returns the longest time between two
// acknowledged writes: how long the endpoint was away.
func (h *harness) writeThrough(url, token, session string, disrupt func()) time.Duration {
	h.t.Helper()
	h.mustCall(url, token, "create_session", map[string]any{"session_id": session, "namespace": agentNamespace, "project": "failover"})
	w := &writer{url: url, token: token, ns: agentNamespace, session: session}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { w.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitCount := func(n int, what string) {
		deadline := time.Now().Add(3 * time.Minute)
		for w.count() < n {
			if time.Now().After(deadline) {
				h.t.Fatalf("%s: want %d writes acknowledged, have %s\n%s", what, n, w.status(), h.describeOperator())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitCount(20, "before the disruption")
	mark := w.count()
	disrupt()
	waitCount(w.count()+20, "after the disruption")
	cancel()
	<-done
	gap := w.longestGap(mark)

	doc := h.mustCall(url, token, "export_session", map[string]any{"session_id": session, "namespace": agentNamespace})
	var exported struct {
		Document struct {
			History []struct{ Content string } `json:"conversation_history"`
		} `json:"document"`
	}
	if err := json.Unmarshal([]byte(doc), &exported); err != nil {
		h.t.Fatalf("export_session: %v\n%s", err, doc)
	}
	d := exported.Document
	stored := map[string]int{}
	for i, m := range d.History {
		stored[m.Content] = i
	}
	last := -1
	for _, a := range w.acked {
		i, ok := stored[a]
		if !ok {
			h.t.Fatalf("acknowledged write %q is missing after the disruption (%d acknowledged, %d stored)", a, len(w.acked), len(d.History))
		}
		if i <= last {
			h.t.Fatalf("acknowledged write %q is out of order", a)
		}
		last = i
	}
	h.t.Logf("%d writes acknowledged (%d attempts failed during the disruption), all stored in order", len(w.acked), w.failures)
	return gap
}

func (h *harness) describeOperator() string {
	pods, err := h.cs.CoreV1().Pods(installNamespace).List(h.ctx, metav1.ListOptions{LabelSelector: managerSelector})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		b.WriteString(h.diagnose(installNamespace, p.Name))
	}
	return b.String()
}
