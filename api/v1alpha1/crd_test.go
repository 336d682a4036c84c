package v1alpha1_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

func TestCRDAdvertisesColumnsShortNameAndCategory(t *testing.T) {
	testenv.Require(t)
	var crd apiextensionsv1.CustomResourceDefinition
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Name: "mcpsessions.sessions.mcp.dev"}, &crd); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(crd.Spec.Names.ShortNames, "mcps") {
		t.Errorf("short names %v lack mcps", crd.Spec.Names.ShortNames)
	}
	if !slices.Contains(crd.Spec.Names.Categories, "mcp") {
		t.Errorf("categories %v lack mcp", crd.Spec.Names.Categories)
	}
	if crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
		t.Errorf("scope %q, want Namespaced", crd.Spec.Scope)
	}
	var names []string
	for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
		names = append(names, strings.ToUpper(c.Name))
	}
	want := []string{"PHASE", "PROJECT", "OWNER", "MESSAGES", "SIZE", "LAST-ACTIVITY", "EXPIRES", "AGE"}
	if !slices.Equal(names, want) {
		t.Errorf("printer columns %v, want %v", names, want)
	}
	if crd.Spec.Versions[0].Subresources == nil || crd.Spec.Versions[0].Subresources.Status == nil {
		t.Error("status subresource missing")
	}
}

// TestKubectlGetShowsColumns runs the real kubectl against the real apiserver,
// as a user would.
func TestKubectlGetShowsColumns(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	s := &v1.McpSession{
		ObjectMeta: metav1.ObjectMeta{Name: "debug-memory-leak", Namespace: ns},
		Spec:       v1.McpSessionSpec{Project: "E-Commerce-API", Owner: "alice"},
	}
	if err := k8sClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Status.Phase = v1.PhaseActive
	s.Status.Counts.Messages = 42
	if err := k8sClient.Status().Update(ctx, s); err != nil {
		t.Fatal(err)
	}

	kubectl := testEnv.ControlPlane.KubeCtl()
	stdout, stderr, err := kubectl.Run("get", "mcpsessions", "-n", ns)
	if err != nil {
		t.Fatalf("kubectl get mcpsessions: %v\n%s", err, readAll(stderr))
	}
	out := readAll(stdout)
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	want := []string{"NAME", "PHASE", "PROJECT", "OWNER", "MESSAGES", "SIZE", "LAST-ACTIVITY", "EXPIRES", "AGE"}
	if !slices.Equal(header, want) {
		t.Fatalf("kubectl header %v, want %v\n%s", header, want, out)
	}
	row := strings.Fields(strings.SplitN(out, "\n", 3)[1])
	if row[0] != "debug-memory-leak" || row[1] != "Active" || row[2] != "E-Commerce-API" || row[3] != "alice" || row[4] != "42" {
		t.Fatalf("unexpected row %v\n%s", row, out)
	}

	// The short name and the category resolve too.
	for _, res := range []string{"mcps", "mcp"} {
		if _, stderr, err := kubectl.Run("get", res, "-n", ns); err != nil {
			t.Errorf("kubectl get %s: %v\n%s", res, err, readAll(stderr))
		}
	}
}

// TestSamplesApplyCleanly creates every manifest under config/samples.
func TestSamplesApplyCleanly(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "sessions_*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("samples: %v (found %d)", err, len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		u.SetNamespace(ns)
		// A server-side dry run first mirrors `kubectl apply --dry-run=server`.
		if err := k8sClient.Create(ctx, u.DeepCopy(), client.DryRunAll); err != nil {
			t.Fatalf("%s does not apply: %v", f, err)
		}
		if err := k8sClient.Create(ctx, &u); err != nil {
			t.Fatalf("%s does not apply: %v", f, err)
		}
	}
}

// readAll reads a command's output; a read error only shortens it.
func readAll(r io.Reader) string {
	data, _ := io.ReadAll(r)
	return string(data)
}
