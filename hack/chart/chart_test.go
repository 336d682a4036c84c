package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// The chart and the installer, as `make test` and `make test-chart` see
// them (the tests run in hack/chart).
const (
	chartDir    = "../../charts/mcp-session-operator"
	configDir   = "../../config"
	releaseName = "mcp-session-operator"
	installNS   = "mcp-session-operator-system"
)

// tools returns the helm and kustomize binaries make passes in, or skips.
func tools(t *testing.T) (helm, kustomize string) {
	t.Helper()
	helm, kustomize = os.Getenv("HELM"), os.Getenv("KUSTOMIZE")
	if helm == "" || kustomize == "" {
		t.Skip("HELM and KUSTOMIZE are not set: run `make test` or `make test-chart`, which build them")
	}
	return helm, kustomize
}

// helmTemplate renders the committed chart in the installer's namespace.
func helmTemplate(t *testing.T, helm string, set ...string) ([]Object, error) {
	t.Helper()
	args := []string{"template", releaseName, chartDir, "--namespace", installNS}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helm, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return ParseObjects(stdout.Bytes())
}

func mustTemplate(t *testing.T, helm string, set ...string) []Object {
	t.Helper()
	objs, err := helmTemplate(t, helm, set...)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func mustBuild(t *testing.T, kustomize, dir string) []Object {
	t.Helper()
	objs, err := kustomizeBuild(kustomize, filepath.Join(configDir, dir))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// Helm's own labels and keep policies are what the chart adds on purpose;
// everything else must be the installer's.
var helmOnlyLabels = []string{"helm.sh/chart", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by"}

// normalise drops what only one side has on purpose, and empty maps.
func normalise(o Object) Object {
	meta := o.meta()
	if labels, ok := meta["labels"].(map[string]any); ok {
		for _, l := range helmOnlyLabels {
			delete(labels, l)
		}
		if len(labels) == 0 {
			delete(meta, "labels")
		}
	}
	// A null annotations map (every annotation conditional and off) is none.
	ann, _ := meta["annotations"].(map[string]any)
	delete(ann, "helm.sh/resource-policy")
	if len(ann) == 0 {
		delete(meta, "annotations")
	}
	return o
}

func key(o Object) string {
	return fmt.Sprintf("%s %s/%s", o["apiVersion"], o.Kind(), strings.TrimPrefix(o.Namespace()+"/"+o.Name(), "/"))
}

func byKey(objs []Object) map[string]Object {
	m := map[string]Object{}
	for _, o := range objs {
		m[key(o)] = normalise(o)
	}
	return m
}

// compare says, object by object and field by field, how got differs
// from want.
func compare(got, want []Object) []string {
	g, w := byKey(got), byKey(want)
	var problems []string
	for k, wo := range w {
		gobj, ok := g[k]
		if !ok {
			problems = append(problems, k+": in the installer, not rendered by the chart")
			continue
		}
		var r fieldDiffs
		cmp.Equal(map[string]any(wo), map[string]any(gobj), cmp.Reporter(&r))
		for _, d := range r.diffs {
			problems = append(problems, k+": "+d)
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			problems = append(problems, k+": rendered by the chart, not in the installer")
		}
	}
	sort.Strings(problems)
	return problems
}

// fieldDiffs is a go-cmp reporter that names each differing field by its
// path (spec.template.spec.containers[0].args[3]).
type fieldDiffs struct {
	path  cmp.Path
	diffs []string
}

func (r *fieldDiffs) PushStep(ps cmp.PathStep) { r.path = append(r.path, ps) }
func (r *fieldDiffs) PopStep()                 { r.path = r.path[:len(r.path)-1] }
func (r *fieldDiffs) Report(rs cmp.Result) {
	if rs.Equal() {
		return
	}
	var p strings.Builder
	for _, s := range r.path {
		switch s := s.(type) {
		case cmp.MapIndex:
			fmt.Fprintf(&p, ".%v", s.Key())
		case cmp.SliceIndex:
			fmt.Fprintf(&p, "[%d]", s.Key())
		}
	}
	show := func(v reflect.Value) string {
		if !v.IsValid() {
			return "(absent)"
		}
		b, _ := yaml.Marshal(v.Interface())
		return strings.TrimSpace(string(b))
	}
	want, got := r.path.Last().Values()
	r.diffs = append(r.diffs, fmt.Sprintf("%s: installer %s, chart %s", strings.TrimPrefix(p.String(), "."), show(want), show(got)))
}

func withoutKind(objs []Object, kind string) []Object {
	var out []Object
	for _, o := range objs {
		if o.Kind() != kind {
			out = append(out, o)
		}
	}
	return out
}

func onlyKind(objs []Object, kind string) []Object {
	var out []Object
	for _, o := range objs {
		if o.Kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func reportDiffs(t *testing.T, what string, problems []string) {
	t.Helper()
	if len(problems) > 0 {
		t.Errorf("%s differ (if config/ changed, run `make helm-chart`):\n  %s", what, strings.Join(problems, "\n  "))
	}
}

// With default values, `helm template` renders the installer's objects:
// all but the Namespace, which Helm leaves to --create-namespace.
func TestDefaultValuesRenderTheInstaller(t *testing.T) {
	helm, kustomize := tools(t)
	installer := mustBuild(t, kustomize, "default")
	chart := mustTemplate(t, helm)
	if len(onlyKind(installer, "Namespace")) != 1 {
		t.Fatalf("the installer has %d Namespaces, want 1", len(onlyKind(installer, "Namespace")))
	}
	reportDiffs(t, "helm template (default values) and kustomize build config/default", compare(chart, withoutKind(installer, "Namespace")))
}

// namespace.create=true renders the installer's Namespace too.
func TestNamespaceCreateRendersTheInstallersNamespace(t *testing.T) {
	helm, kustomize := tools(t)
	installer := mustBuild(t, kustomize, "default")
	chart := mustTemplate(t, helm, "namespace.create=true")
	reportDiffs(t, "helm template --set namespace.create=true and kustomize build config/default", compare(chart, installer))
}

// store.postgres.secretName renders config/postgres (the installer on
// PostgreSQL, dist/install-postgres.yaml), whose Secret is
// mcp-session-operator-store; replicas and the Secret's key follow the
// values.
func TestPostgresValuesRenderTheOverlay(t *testing.T) {
	helm, kustomize := tools(t)
	overlay := withoutKind(mustBuild(t, kustomize, "postgres"), "Namespace")
	chart := mustTemplate(t, helm, "store.postgres.secretName=mcp-session-operator-store")
	reportDiffs(t, "helm template --set store.postgres.secretName=mcp-session-operator-store and kustomize build config/postgres", compare(chart, overlay))

	chart = mustTemplate(t, helm, "store.postgres.secretName=pg", "store.postgres.secretKey=dsn", "store.postgres.replicas=3")
	d := onlyKind(chart, "Deployment")[0]
	if r := field(d, "spec", "replicas"); toInt(r) != 3 {
		t.Errorf("replicas %v, want 3", r)
	}
	c := named(field(d, "spec", "template", "spec", "containers"), "manager")
	ref := field(named(c["env"], "MCPSESSION_STORE"), "valueFrom", "secretKeyRef")
	if msg := want("the store's secretKeyRef", ref, map[string]any{"name": "pg", "key": "dsn"}); msg != "" {
		t.Error(msg)
	}
}

// monitoring.enabled=true adds exactly config/prometheus's objects.
func TestMonitoringRendersTheComponent(t *testing.T) {
	helm, kustomize := tools(t)
	want := append(withoutKind(mustBuild(t, kustomize, "default"), "Namespace"), mustBuild(t, kustomize, "prometheus")...)
	chart := mustTemplate(t, helm, "monitoring.enabled=true")
	reportDiffs(t, "helm template --set monitoring.enabled=true and config/default with config/prometheus", compare(chart, want))
}

// The committed chart is what the generator writes from config/ now.
func TestCommittedChartIsCurrent(t *testing.T) {
	_, kustomize := tools(t)
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Version string }
	if err := yaml.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	in, err := buildInputs(kustomize, configDir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(in, Options{Version: meta.Version})
	if err != nil {
		t.Fatal(err)
	}
	committed := map[string]string{}
	err = filepath.WalkDir(chartDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(chartDir, p)
		committed[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if committed[name] != text {
			t.Errorf("%s is stale: run `make helm-chart`", name)
		}
	}
	for name := range committed {
		if _, ok := files[name]; !ok {
			t.Errorf("%s is not generated any more: run `make helm-chart`", name)
		}
	}
}

// find returns the one object of kind named name (without the prefix).
func find(t *testing.T, objs []Object, kind, name string) Object {
	t.Helper()
	for _, o := range objs {
		if o.Kind() == kind && strings.TrimPrefix(o.Name(), "mcp-session-operator-") == name {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return nil
}

func manager(t *testing.T, objs []Object) map[string]any {
	t.Helper()
	return named(field(find(t, objs, "Deployment", "controller-manager"), "spec", "template", "spec", "containers"), "manager")
}

func hasArg(c map[string]any, arg string) bool {
	for _, a := range c["args"].([]any) {
		if a == arg {
			return true
		}
	}
	return false
}

func yamlOf(v any) string {
	b, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(b))
}

// Each value reaches the field it sets; a template that ignored one would
// still render the installer with default values.
func TestValuesReachTheirFields(t *testing.T) {
	helm, _ := tools(t)
	digest := "sha256:" + strings.Repeat("ab", 32)
	cases := []struct {
		set   []string
		check func(t *testing.T, objs []Object) string // what is wrong, or ""
	}{
		{[]string{"image.repository=registry.example.com/mcp", "image.tag=9.9.9"}, func(t *testing.T, o []Object) string {
			return want("image", manager(t, o)["image"], "registry.example.com/mcp:9.9.9")
		}},
		{[]string{"image.digest=" + digest}, func(t *testing.T, o []Object) string {
			return want("image", manager(t, o)["image"], "mcp-session-operator:0.1.0@"+digest)
		}},
		{[]string{"image.pullPolicy=Always"}, func(t *testing.T, o []Object) string {
			return want("imagePullPolicy", manager(t, o)["imagePullPolicy"], "Always")
		}},
		{[]string{"resources.limits.memory=1Gi"}, func(t *testing.T, o []Object) string {
			return want("resources.limits.memory", field(manager(t, o), "resources", "limits", "memory"), "1Gi")
		}},
		{[]string{"store.pebble.size=50Gi", "store.pebble.storageClassName=fast"}, func(t *testing.T, o []Object) string {
			pvc := find(t, o, "PersistentVolumeClaim", "data")
			return want("storage", field(pvc, "spec", "resources", "requests", "storage"), "50Gi") +
				want("storageClassName", field(pvc, "spec", "storageClassName"), "fast")
		}},
		{[]string{"store.pebble.keepOnUninstall=false"}, func(t *testing.T, o []Object) string {
			return want("the claim's resource-policy", field(find(t, o, "PersistentVolumeClaim", "data"), "metadata", "annotations", "helm.sh/resource-policy"), nil)
		}},
		{nil, func(t *testing.T, o []Object) string {
			return want("the claim's resource-policy", field(find(t, o, "PersistentVolumeClaim", "data"), "metadata", "annotations", "helm.sh/resource-policy"), "keep") +
				want("the CRD's resource-policy", field(find(t, o, "CustomResourceDefinition", "mcpsessions.sessions.mcp.dev"), "metadata", "annotations", "helm.sh/resource-policy"), "keep")
		}},
		{[]string{"mcp.port=9000"}, func(t *testing.T, o []Object) string {
			c := manager(t, o)
			svc := find(t, o, "Service", "mcp")
			var s string
			if !hasArg(c, "--mcp-bind-address=:9000") {
				s += "args lack --mcp-bind-address=:9000; "
			}
			return s + want("containerPort mcp", named(c["ports"], "mcp")["containerPort"], float64(9000)) +
				want("Service port mcp", named(field(svc, "spec", "ports"), "mcp")["port"], float64(9000))
		}},
		{[]string{"mcp.tokenAudience=agents.example.com", "mcp.allowedOrigins={https://a.example,https://b.example}",
			"mcp.resourceURL=https://mcp.example.com/mcp", "mcp.authorizationServers={https://issuer.example.com}",
			"defaults.idleTimeout=1h", "defaults.ttl=48h", "defaults.retention=0"}, func(t *testing.T, o []Object) string {
			c := manager(t, o)
			var s string
			for _, a := range []string{"--mcp-token-audience=agents.example.com", "--mcp-allowed-origins=https://a.example,https://b.example",
				"--mcp-resource-url=https://mcp.example.com/mcp", "--mcp-authorization-servers=https://issuer.example.com",
				"--default-idle-timeout=1h", "--default-ttl=48h", "--default-retention=0"} {
				if !hasArg(c, a) {
					s += "args lack " + a + "; "
				}
			}
			return s
		}},
		{[]string{"crds.install=false", "networkPolicy.enabled=false"}, func(t *testing.T, o []Object) string {
			return want("CRDs", len(onlyKind(o, "CustomResourceDefinition")), 0) + want("NetworkPolicies", len(onlyKind(o, "NetworkPolicy")), 0)
		}},
		{[]string{"crds.keep=false"}, func(t *testing.T, o []Object) string {
			return want("the CRD's resource-policy", field(find(t, o, "CustomResourceDefinition", "mcpsessions.sessions.mcp.dev"), "metadata", "annotations", "helm.sh/resource-policy"), nil)
		}},
		{[]string{"monitoring.enabled=true", "monitoring.labels.release=kube-prometheus-stack",
			"monitoring.prometheusServiceAccount.name=prom", "monitoring.prometheusServiceAccount.namespace=observability"}, func(t *testing.T, o []Object) string {
			subject := field(find(t, o, "ClusterRoleBinding", "prometheus-metrics-reader"), "subjects").([]any)[0].(map[string]any)
			return want("ServiceMonitor label release", field(find(t, o, "ServiceMonitor", "metrics"), "metadata", "labels", "release"), "kube-prometheus-stack") +
				want("PrometheusRule label release", field(find(t, o, "PrometheusRule", "alerts"), "metadata", "labels", "release"), "kube-prometheus-stack") +
				want("binding subject", subject["namespace"].(string)+"/"+subject["name"].(string), "observability/prom")
		}},
		{[]string{"nodeSelector.disk=ssd", "tolerations[0].key=dedicated", "tolerations[0].operator=Exists", "imagePullSecrets[0].name=regcred"}, func(t *testing.T, o []Object) string {
			pod := field(find(t, o, "Deployment", "controller-manager"), "spec", "template", "spec").(map[string]any)
			return want("nodeSelector", yamlOf(pod["nodeSelector"]), "disk: ssd") +
				want("tolerations", yamlOf(pod["tolerations"]), "- key: dedicated\n  operator: Exists") +
				want("imagePullSecrets", yamlOf(pod["imagePullSecrets"]), "- name: regcred")
		}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.set, ","), func(t *testing.T) {
			if problem := c.check(t, mustTemplate(t, helm, c.set...)); problem != "" {
				t.Error(problem)
			}
		})
	}
}

func want(what string, got, want any) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	return fmt.Sprintf("%s is %#v, want %#v; ", what, got, want)
}

// Bad values are refused before anything renders, saying what is wrong.
func TestBadValuesAreRefused(t *testing.T) {
	helm, _ := tools(t)
	cases := []struct{ set, want string }{
		{"store.postgres.secretName=Not_A_Name", "store.postgres.secretName"},
		{"store.postgres.replicas=0", "store.postgres.replicas"},
		{"mcp.port=0", "mcp.port"},
		{"image.digest=latest", "image.digest"},
		{"defaults.ttl=a-week", "defaults.ttl"},
		{"monitoring.enable=true", "monitoring"},
		{"image.pullPolicy=Sometimes", "image.pullPolicy"},
	}
	for _, c := range cases {
		t.Run(c.set, func(t *testing.T) {
			_, err := helmTemplate(t, helm, c.set)
			if err == nil {
				t.Fatalf("helm template --set %s rendered; want it refused", c.set)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("helm template --set %s: %v\nwant the error to name %q", c.set, err, c.want)
			}
		})
	}
}
