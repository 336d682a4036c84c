//go:build cluster

package cluster

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// TestBrokenPodsFailFast proves that the waits the operator test relies on
// give up on a pod that cannot come up, with its events and logs, instead
// of hanging: a missing image, a claim that never binds, a crash loop.
func TestBrokenPodsFailFast(t *testing.T) {
	h := newHarness(t)
	const ns = "broken-pods"
	h.kubectl("create", "namespace", ns)
	t.Cleanup(func() { _, _ = h.forCleanup().kubectlErr("", "delete", "namespace", ns, "--wait=false") })

	pod := func(name, image string, args ...string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"test": name}},
			Spec: corev1.PodSpec{
				AutomountServiceAccountToken: ptr.To(false),
				Containers:                   []corev1.Container{{Name: "main", Image: image, Args: args}},
			},
		}
	}
	cases := []struct {
		name  string
		setup func() *corev1.Pod
		want  []string
	}{{
		name:  "missing-image",
		setup: func() *corev1.Pod { return pod("missing-image", "localhost/mcp-cluster/no-such-image:1") },
		want:  []string{"ErrImagePull", "no-such-image", "Events:"},
	}, {
		name: "claim-never-binds",
		setup: func() *corev1.Pod {
			pvc := &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: ptr.To("no-such-class"),
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}
			if _, err := h.cs.CoreV1().PersistentVolumeClaims(ns).Create(h.ctx, pvc, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			p := pod("claim-never-binds", h.env.agentImage)
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "orphan"}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
			return p
		},
		want: []string{"unschedulable", `"no-such-class" not found`},
	}, {
		name: "crash-loop",
		setup: func() *corev1.Pod {
			// The agent exits at once without an endpoint; like the
			// operator, it is Ready only once a probe passes, which none does.
			p := pod("crash-loop", h.env.agentImage, "--endpoint", "http://127.0.0.1:1/mcp")
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(1)}}}
			return p
		},
		want: []string{"CrashLoopBackOff", "connect to http://127.0.0.1:1/mcp"},
	}}
	for _, c := range cases {
		h.phase("a pod that cannot come up fails the wait: "+c.name, func() {
			if _, err := h.cs.CoreV1().Pods(ns).Create(h.ctx, c.setup(), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			_, err := h.waitPods(ns, "test="+c.name, 3*time.Minute, c.name+" to be Ready", podReady)
			if err == nil {
				t.Fatalf("%s: the wait succeeded", c.name)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: the failure does not mention %q:\n%v", c.name, w, err)
				}
			}
			if strings.Contains(err.Error(), "not within") {
				t.Errorf("%s: the wait ran out its time instead of recognising the failure:\n%v", c.name, err)
			}
		})
	}
}
