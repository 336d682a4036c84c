package sessions

import (
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// k8sClient reads and writes the control plane's objects (uncached), for
// the tests of the Kubernetes registry; nil without a control plane.
var k8sClient client.Client

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, runtime.NewScheme(), func(env *testenv.Env) (func(), error) {
		k8sClient = env.Client
		return nil, nil
	}))
}
