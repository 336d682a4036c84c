//go:build cluster

package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// samplePod reads config/samples/agent_serviceaccount.yaml: its Pod, and
// the other documents (ServiceAccount, RoleBinding) as YAML for kubectl.
func (h *harness) samplePod() (*corev1.Pod, string) {
	h.t.Helper()
	b, err := os.ReadFile(h.env.agentSample)
	if err != nil {
		h.t.Fatal(err)
	}
	var pod *corev1.Pod
	var others bytes.Buffer
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			h.t.Fatal(err)
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			h.t.Fatal(err)
		}
		switch meta.Kind {
		case "":
			continue
		case "Pod":
			pod = &corev1.Pod{}
			if err := yaml.Unmarshal(doc, pod); err != nil {
				h.t.Fatal(err)
			}
		default:
			others.WriteString("---\n")
			others.Write(doc)
		}
	}
	if pod == nil {
		h.t.Fatalf("%s has no Pod", h.env.agentSample)
	}
	return pod, others.String()
}

// manifestDigest is the digest make image printed for an image tarball.
func manifestDigest(path string) (string, error) {
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return "", err
	}
	h, err := img.Digest()
	if err != nil {
		return "", err
	}
	return h.String(), nil
}
