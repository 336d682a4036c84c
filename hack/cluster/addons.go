package main

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"os/exec"
	"strings"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

//go:embed addons/*.yaml
var addonFiles embed.FS

// applyAddons applies the default StorageClass and CoreDNS with kubectl.
func applyAddons(ctx context.Context, l *layout) error {
	tmpl, err := template.ParseFS(addonFiles, "addons/*.yaml")
	if err != nil {
		return err
	}
	v := map[string]any{"Provisioner": provisionerName, "CoreDNSImage": corednsImage, "DNS": dnsServiceIP, "Domain": clusterDomain}
	for _, t := range tmpl.Templates() {
		var b bytes.Buffer
		if err := t.Execute(&b, v); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, l.bin("kubectl"), "--kubeconfig", l.kubeconfig(), "apply", "--server-side", "-f", "-")
		cmd.Stdin = &b
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("applying %s: %w: %s", t.Name(), err, out)
		}
	}
	return nil
}

// describePods summarises the pods of a namespace, with their events, for
// an error message.
func describePods(ctx context.Context, cs kubernetes.Interface, ns string) string {
	var b strings.Builder
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s/%s: %s\n", ns, p.Name, p.Status.Phase)
		for _, c := range p.Status.ContainerStatuses {
			if w := c.State.Waiting; w != nil {
				fmt.Fprintf(&b, "  %s waiting: %s %s\n", c.Name, w.Reason, w.Message)
			}
		}
	}
	evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, e := range evs.Items {
			if e.Type == corev1.EventTypeWarning {
				fmt.Fprintf(&b, "event %s %s: %s\n", e.InvolvedObject.Name, e.Reason, e.Message)
			}
		}
	}
	return b.String()
}
