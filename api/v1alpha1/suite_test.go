package v1alpha1_test

import (
	"context"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// These tests run against the real kube-apiserver and etcd built by
// hack/control-plane.sh (KUBEBUILDER_ASSETS), so every validation rule below
// is enforced by the apiserver itself, exactly as in a cluster.
var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = runtime.NewScheme()
)

func TestMain(m *testing.M) {
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	os.Exit(testenv.Main(m, scheme, func(env *testenv.Env) (func(), error) {
		testEnv, cfg, k8sClient = env.Environment, env.Config, env.Client
		return nil, nil
	}))
}

// newNamespace gives each test its own namespace: envtest has no namespace
// controller, so namespaces can never be cleaned up and must not be shared.
func newNamespace(t *testing.T) string {
	t.Helper()
	testenv.Require(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "api-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}
