//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A pod in one of these states will not get better by waiting: a missing
// image (nothing can be pulled here), a bad spec, a crash loop.
var hopeless = []string{
	"ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
	"CreateContainerConfigError", "CreateContainerError", "RunContainerError", "CrashLoopBackOff",
}

// unschedulableFor is how long a pod may stay unschedulable: a claim of the
// default StorageClass binds within seconds of scheduling, so a pod still
// waiting after this has a claim that will never bind.
const unschedulableFor = 45 * time.Second

// waitPods waits until a pod matching selector in ns satisfies done. It
// returns early with an error, holding the pods' events and logs, when a
// pod is hopeless, has been unschedulable for unschedulableFor, or timeout
// passes: a bad image, claim or binary fails the test, never hangs it.
func (h *harness) waitPods(ns, selector string, timeout time.Duration, what string, done func(*corev1.Pod) bool) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(h.ctx, timeout)
	defer cancel()
	for {
		pods, err := h.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil {
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.DeletionTimestamp == nil && done(p) {
					return p, nil
				}
				if why := stuck(p); why != "" {
					return nil, fmt.Errorf("waiting for %s: pod %s/%s %s\n%s", what, ns, p.Name, why, h.diagnose(ns, p.Name))
				}
			}
		}
		select {
		case <-ctx.Done():
			var diag strings.Builder
			if pods != nil {
				for _, p := range pods.Items {
					diag.WriteString(h.diagnose(ns, p.Name))
				}
			}
			return nil, fmt.Errorf("waiting for %s: not within %s\n%s", what, timeout, diag.String())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// stuck says why a pod is hopeless, or "".
func stuck(p *corev1.Pod) string {
	for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if w := c.State.Waiting; w != nil && slices.Contains(hopeless, w.Reason) {
			return fmt.Sprintf("container %s is %s: %s", c.Name, w.Reason, w.Message)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable &&
			time.Since(p.CreationTimestamp.Time) > unschedulableFor {
			return fmt.Sprintf("has been unschedulable for %s: %s", unschedulableFor, c.Message)
		}
	}
	return ""
}

// runPod creates pod (labelled test=<its name>), waits until it has
// finished, and returns it with its output.
func (h *harness) runPod(pod *corev1.Pod, timeout time.Duration, what string) (*corev1.Pod, string) {
	h.t.Helper()
	if _, err := h.cs.CoreV1().Pods(pod.Namespace).Create(h.ctx, pod, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	p, err := h.waitPods(pod.Namespace, "test="+pod.Name, timeout, what+" "+pod.Name+" to finish", podFinished)
	if err != nil {
		h.t.Fatal(err)
	}
	return p, h.kubectl("logs", "-n", pod.Namespace, pod.Name)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// diagnose describes a pod (with its events and its claims' events) and
// prints its containers' logs, current and previous.
func (h *harness) diagnose(ns, pod string) string {
	var b strings.Builder
	out, err := h.kubectlErr("", "describe", "pod", "-n", ns, pod)
	fmt.Fprintf(&b, "---- kubectl describe pod -n %s %s\n%s", ns, pod, out)
	if err != nil {
		fmt.Fprintln(&b, err)
	}
	if p, err := h.cs.CoreV1().Pods(ns).Get(h.ctx, pod, metav1.GetOptions{}); err == nil {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				out, _ := h.kubectlErr("", "describe", "pvc", "-n", ns, v.PersistentVolumeClaim.ClaimName)
				fmt.Fprintf(&b, "---- kubectl describe pvc -n %s %s\n%s", ns, v.PersistentVolumeClaim.ClaimName, out)
			}
		}
		for _, c := range p.Spec.Containers {
			for _, prev := range []bool{false, true} {
				logs, err := h.kubectlErr("", "logs", "-n", ns, pod, "-c", c.Name, fmt.Sprintf("--previous=%v", prev), "--tail=40")
				if err == nil && logs != "" {
					fmt.Fprintf(&b, "---- logs of %s (previous=%v)\n%s", c.Name, prev, logs)
				}
			}
		}
	}
	return b.String()
}
