//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// What make test-cluster passes in for the chart and monitoring.
type helmEnv struct {
	helm, chart    string // the helm binary and the packaged chart
	scraperImage   string // internal/e2e/cluster/scraper as an image
	monitoring     string // dist/monitoring.yaml: kustomize build config/prometheus
	prometheusCRDs string // the Prometheus Operator's CRDs, from its Go module
}

func getHelmEnv(t *testing.T) helmEnv {
	t.Helper()
	e := helmEnv{helm: os.Getenv("HELM"), chart: os.Getenv("CHART"), scraperImage: os.Getenv("SCRAPER_IMG"),
		monitoring: os.Getenv("MONITORING"), prometheusCRDs: os.Getenv("PROMETHEUS_CRDS")}
	for name, v := range map[string]string{"HELM": e.helm, "CHART": e.chart, "SCRAPER_IMG": e.scraperImage,
		"MONITORING": e.monitoring, "PROMETHEUS_CRDS": e.prometheusCRDs} {
		if v == "" {
			t.Fatalf("%s is not set: run these tests with `make test-cluster`", name)
		}
	}
	return e
}

const (
	releaseName = "mcp-session-operator"
	// The component's binding names kube-prometheus's Prometheus; the test
	// plays it, then another account set through the chart's values.
	promNamespace  = "monitoring"
	promAccount    = "prometheus-k8s"
	scrapeAccount  = "scraper"
	metricsService = "mcp-session-operator-metrics"
	sessionCRD     = "mcpsessions.sessions.mcp.dev"
)

// TestHelmChart installs the operator with its Helm chart, as a platform
// team would, and keeps a session's data through `helm upgrade` (a new
// image, monitoring switched on, a changed default) and through `helm
// uninstall` and a reinstall, and at last moves it to the PostgreSQL
// store with two replicas (`helm upgrade --set
// store.postgres.secretName`). On the way it applies the Prometheus
// Operator's CRDs and the monitoring component, and scrapes /metrics over
// HTTPS from a pod bound to metrics-reader and from one that is not.
//
// The chart and the installer own the same cluster-wide objects, so this
// test removes everything it installed before it ends; it runs before
// TestOperatorInCluster (files run in name order), which leaves its install
// in place.
func TestHelmChart(t *testing.T) {
	h := newHarness(t)
	he := getHelmEnv(t)
	if _, err := h.kubectlErr("", "get", "crd", sessionCRD); err == nil {
		t.Fatalf("the cluster already has %s: this test installs the chart on a cluster without the operator", sessionCRD)
	}
	t.Cleanup(func() { h.forCleanup().removeChart(he) })

	h.phase("1. the Prometheus Operator's CRDs (ServiceMonitor, PrometheusRule) from its Go module", func() {
		h.kubectl("apply", "--server-side", "-f", filepath.Join(he.prometheusCRDs, "monitoring.coreos.com_servicemonitors.yaml"),
			"-f", filepath.Join(he.prometheusCRDs, "monitoring.coreos.com_prometheusrules.yaml"))
		h.waitEstablished("servicemonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com")
	})
	h.phase("2. helm install of the packaged chart with default values: the operator Ready", func() {
		h.kubectl("create", "namespace", installNamespace)
		h.kubectl("label", "namespace", installNamespace, "pod-security.kubernetes.io/enforce=restricted")
		h.helm(he, "install", releaseName, he.chart, "--namespace", installNamespace)
		op := h.waitOperator(h.env.image, nil)
		h.checkOperatorPod(op, h.env.imageTar)
		h.waitRouted()
	})
	h.phase("3. config/prometheus applied; /metrics over HTTPS: 200 bound to metrics-reader, 403 unbound", func() {
		h.kubectl("apply", "--server-side", "-f", he.monitoring)
		h.kubectl("create", "namespace", promNamespace)
		h.kubectl("create", "serviceaccount", "-n", promNamespace, promAccount)
		h.kubectl("create", "serviceaccount", "-n", promNamespace, "unbound")
		h.wantScrape(he, promAccount, 200, h.buildInfoVersion(h.env.image))
		h.wantScrape(he, "unbound", 403, "")
		for _, obj := range []string{"servicemonitor/mcp-session-operator-metrics", "prometheusrule/mcp-session-operator-alerts",
			"configmap/mcp-session-operator-dashboard"} {
			h.kubectl("get", "-n", installNamespace, obj)
		}
		// The chart takes these objects over at the upgrade.
		h.kubectl("delete", "-f", he.monitoring, "--wait=true")
	})

	h.ensureAgentAccount()
	url, token := h.serviceURL(), h.token(agentNamespace, agentAccount)
	const kept = "helm-kept"
	h.mustCall(url, token, "create_session", map[string]any{"session_id": kept, "namespace": agentNamespace, "project": "helm"})
	h.mustCall(url, token, "add_context", map[string]any{"session_id": kept, "namespace": agentNamespace, "key": "chart", "value": map[string]any{"installed": "helm"}})
	h.mustCall(url, token, "add_discovery", map[string]any{"session_id": kept, "namespace": agentNamespace, "title": "kept", "description": "survives helm upgrade and uninstall"})
	export := func(url string) string {
		return h.mustCall(url, token, "export_session", map[string]any{"session_id": kept, "namespace": agentNamespace})
	}
	before := export(url)

	upgradeTag := imageTag(h.env.upgradeImage)
	h.phase("4. helm upgrade mid-stream: new image, monitoring on, another default; every acknowledged write kept", func() {
		gap := h.writeThrough(url, token, "helm-upgrade", func() {
			h.helm(he, "upgrade", releaseName, he.chart, "--namespace", installNamespace, "--reuse-values",
				"--set", "image.tag="+upgradeTag, "--set", "monitoring.enabled=true", "--set", "defaults.idleTimeout=45m",
				"--set", "monitoring.prometheusServiceAccount.namespace="+promNamespace, "--set", "monitoring.prometheusServiceAccount.name="+scrapeAccount)
			op := h.waitOperator(h.env.upgradeImage, nil)
			h.checkOperatorPod(op, h.env.upgradeImageTar)
			if !containsArg(op.Spec.Containers[0].Args, "--default-idle-timeout=45m") {
				t.Errorf("after the upgrade the manager runs with %q, want --default-idle-timeout=45m", op.Spec.Containers[0].Args)
			}
		})
		t.Logf("endpoint unavailable for %.1fs during helm upgrade", gap.Seconds())
		if after := export(url); after != before {
			t.Fatalf("the session changed across helm upgrade:\nbefore: %s\nafter:  %s", before, after)
		}
	})
	h.phase("5. the chart's monitoring: its objects, and its binding lets the scraper in", func() {
		for _, obj := range []string{"servicemonitor/mcp-session-operator-metrics", "prometheusrule/mcp-session-operator-alerts",
			"configmap/mcp-session-operator-dashboard"} {
			if by := h.kubectl("get", "-n", installNamespace, obj, "-o", "jsonpath={.metadata.labels.app\\.kubernetes\\.io/managed-by}"); by != "Helm" {
				t.Errorf("%s is managed by %q, want Helm", obj, by)
			}
		}
		h.kubectl("create", "serviceaccount", "-n", promNamespace, scrapeAccount)
		h.wantScrape(he, scrapeAccount, 200, h.buildInfoVersion(h.env.upgradeImage))
		h.wantScrape(he, promAccount, 403, "")
	})
	h.phase("6. helm uninstall keeps the claim, the CRDs and the session; a reinstall serves it again", func() {
		h.helm(he, "uninstall", releaseName, "--namespace", installNamespace, "--wait")
		h.waitNoOperator()
		h.kubectl("get", "-n", installNamespace, "persistentvolumeclaim", pvcName)
		h.kubectl("get", "crd", sessionCRD)
		h.kubectl("get", "-n", agentNamespace, "mcpsession", kept)
		h.helm(he, "install", releaseName, he.chart, "--namespace", installNamespace)
		h.waitOperator(h.env.image, nil)
		// The Service was deleted and made again, with another address.
		if after := export(h.waitRouted()); after != before {
			t.Fatalf("the session changed across helm uninstall and install:\nbefore: %s\nafter:  %s", before, after)
		}
	})
	h.phase("7. helm upgrade to store.postgres: two replicas on PostgreSQL, no claim mounted, a PodDisruptionBudget; each replica reads what the other wrote", func() {
		h.upgradeToPostgres(he)
	})
}

// upgradeToPostgres switches the release to the PostgreSQL store as
// docs/operations.md tells a platform team to (the store's URL in a
// Secret, store.postgres.secretName), then checks what the values promise:
// store.postgres.replicas managers, none mounting a claim, the URL from
// the Secret, a PodDisruptionBudget; and that every replica serves MCP on
// the shared database: a session written through one pod is read through
// each, pod by pod.
func (h *harness) upgradeToPostgres(he helmEnv) {
	h.t.Helper()
	url := os.Getenv("POSTGRES_URL")
	if url == "" {
		h.t.Fatal("POSTGRES_URL is not set: run these tests with `make test-cluster`")
	}
	h.kubectl("create", "secret", "generic", storeSecret, "-n", installNamespace, "--from-literal=url="+url)
	h.helm(he, "upgrade", releaseName, he.chart, "--namespace", installNamespace, "--reuse-values",
		"--set", "store.postgres.secretName="+storeSecret)
	pods := h.waitReplicas(2, 4*time.Minute)
	h.wantNoClaim(pods)
	for _, p := range pods {
		if !storeFromSecret(p.Spec.Containers[0]) {
			h.t.Errorf("pod %s does not take MCPSESSION_STORE from Secret %s: %v", p.Name, storeSecret, p.Spec.Containers[0].Env)
		}
	}
	if kept := h.kubectl("get", "poddisruptionbudget", "-n", installNamespace, "mcp-session-operator-controller-manager",
		"-o", "jsonpath={.spec.minAvailable}"); kept != "1" {
		h.t.Errorf("the PodDisruptionBudget keeps %q managers, want 1", kept)
	}

	token := h.token(agentNamespace, agentAccount)
	const session = "helm-postgres"
	mark := fmt.Sprintf("written-through-the-service-%d", time.Now().UnixNano())
	svc := h.waitRouted()
	h.mustCall(svc, token, "create_session", map[string]any{"session_id": session, "namespace": agentNamespace, "project": "helm"})
	h.mustCall(svc, token, "add_context", map[string]any{"session_id": session, "namespace": agentNamespace,
		"key": "store", "value": map[string]any{"mark": mark}})
	for _, p := range pods {
		got := h.mustCall(fmt.Sprintf("http://%s:8090/mcp", p.Status.PodIP), token, "get_context",
			map[string]any{"session_id": session, "namespace": agentNamespace, "key": "store"})
		if !strings.Contains(got, mark) {
			h.t.Errorf("pod %s reads context key store of %s as %q, want the value written through the Service", p.Name, session, got)
		}
	}
}

// storeFromSecret reports whether the container takes $MCPSESSION_STORE
// from the Secret that holds the store's URL.
func storeFromSecret(c corev1.Container) bool {
	for _, e := range c.Env {
		if e.Name == "MCPSESSION_STORE" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil &&
			e.ValueFrom.SecretKeyRef.Name == storeSecret && e.ValueFrom.SecretKeyRef.Key == "url" {
			return true
		}
	}
	return false
}

// helm runs helm against the cluster and returns its output, failing the
// test with it on error.
func (h *harness) helm(he helmEnv, args ...string) string {
	h.t.Helper()
	cmd := exec.CommandContext(h.ctx, he.helm, append([]string{"--kubeconfig", h.env.kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func containsArg(args []string, want string) bool {
	for _, a := range args {
		if a == want {
			return true
		}
	}
	return false
}

func imageTag(image string) string { return image[strings.LastIndex(image, ":")+1:] }

// buildInfoVersion is what build_info says for the manager of image, whose
// tag is the version make image stamped into it.
func (h *harness) buildInfoVersion(image string) string {
	return fmt.Sprintf(`version=%q`, imageTag(image))
}

// wantScrape runs the scraper as a pod with the given service account in
// the monitoring namespace and checks the HTTP status it got from the
// metrics Service (and, for 200, that mcpsession_build_info holds want).
func (h *harness) wantScrape(he helmEnv, account string, status int, want string) {
	h.t.Helper()
	name := "scrape-" + account + fmt.Sprint(time.Now().UnixNano()%100000)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: promNamespace, Labels: map[string]string{"test": name}},
		Spec: corev1.PodSpec{
			ServiceAccountName: account,
			RestartPolicy:      corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "scraper", Image: he.scraperImage, Args: []string{
				"--url", fmt.Sprintf("https://%s.%s.svc:8443/metrics", metricsService, installNamespace), "--match", "mcpsession_build_info"}}},
		},
	}
	p, logs := h.runPod(pod, 2*time.Minute, "scraper pod")
	if p.Status.Phase != corev1.PodSucceeded {
		h.t.Fatalf("scraper pod %s (as %s) ended %s:\n%s\n%s", name, account, p.Status.Phase, logs, h.diagnose(promNamespace, name))
	}
	first, rest, _ := strings.Cut(logs, "\n")
	if first != fmt.Sprintf("HTTP %d", status) {
		h.t.Fatalf("scraping /metrics as %s/%s: %q, want HTTP %d\n%s", promNamespace, account, first, status, logs)
	}
	if want != "" && (!strings.HasPrefix(rest, "mcpsession_build_info{") || !strings.Contains(rest, want)) {
		h.t.Fatalf("scraping /metrics as %s/%s: mcpsession_build_info lacks %s:\n%s", promNamespace, account, want, rest)
	}
	h.t.Logf("scraped /metrics as %s/%s: %s %s", promNamespace, account, first, strings.TrimSpace(rest))
}

// waitEstablished waits until the CRDs serve their kinds. (kubectl wait
// fails on a CRD that has no conditions yet instead of waiting.)
func (h *harness) waitEstablished(crds ...string) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for _, crd := range crds {
		for {
			out, err := h.kubectlErr("", "get", "crd", crd, "-o", `jsonpath={.status.conditions[?(@.type=="Established")].status}`)
			if err == nil && out == "True" {
				break
			}
			if time.Now().After(deadline) {
				h.t.Fatalf("CRD %s not Established within a minute: %q %v", crd, out, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// waitNoOperator waits until no operator pod is left.
func (h *harness) waitNoOperator() {
	h.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pods, err := h.cs.CoreV1().Pods(installNamespace).List(h.ctx, metav1.ListOptions{LabelSelector: managerSelector})
		if err == nil && len(pods.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("operator pods still there 2 minutes after helm uninstall: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// forCleanup is the harness for t.Cleanup, which runs after t.Context()
// is canceled: its commands get a context of their own.
func (h *harness) forCleanup() *harness {
	c := *h
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	h.t.Cleanup(cancel)
	c.ctx = ctx
	return &c
}

// removeChart removes everything the chart test installed, whatever step
// it stopped at, and waits until it is gone, so the next test installs on
// a cluster without the operator: the release, then the sessions (their
// finalizers need the operator, which is gone; the store goes with its
// claim), the objects the keep policy left, the namespaces and the CRDs.
func (h *harness) removeChart(he helmEnv) {
	step := func(args ...string) {
		if out, err := h.kubectlErr("", args...); err != nil {
			h.t.Errorf("cleanup: %v\n%s", err, out)
		}
	}
	cmd := exec.CommandContext(h.ctx, he.helm, "--kubeconfig", h.env.kubeconfig, "uninstall", releaseName, "--namespace", installNamespace, "--wait", "--ignore-not-found")
	if out, err := cmd.CombinedOutput(); err != nil {
		h.t.Errorf("cleanup: helm uninstall: %v\n%s", err, out)
	}
	if _, err := h.kubectlErr("", "get", "crd", sessionCRD); err == nil {
		names := strings.Fields(h.kubectlOrEmpty("get", "mcpsessions", "-A", "-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{" "}{end}`))
		for _, n := range names {
			ns, name, _ := strings.Cut(n, "/")
			step("patch", "mcpsession", "-n", ns, name, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
		}
		step("delete", "mcpsessions", "-A", "--all", "--wait=true", "--timeout=60s")
	}
	step("delete", "-f", he.monitoring, "--ignore-not-found", "--wait=true", "--timeout=60s")
	step("delete", "namespace", installNamespace, promNamespace, agentNamespace, "--ignore-not-found", "--wait=true", "--timeout=120s")
	step("delete", "crd", sessionCRD, "mcpsessionpolicies.sessions.mcp.dev", "servicemonitors.monitoring.coreos.com",
		"prometheusrules.monitoring.coreos.com", "--ignore-not-found", "--wait=true", "--timeout=60s")
}

func (h *harness) kubectlOrEmpty(args ...string) string {
	out, _ := h.kubectlErr("", args...)
	return out
}
