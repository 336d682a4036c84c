package main

import (
	"context"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store/backend"
)

// The pod's own name and namespace, from the downward API
// (config/manager/manager.yaml). Outside a pod they are unset.
const (
	podNameEnv      = "POD_NAME"
	podNamespaceEnv = "POD_NAMESPACE"
)

// checkReplicas refuses to start a replica of a Pebble install whose
// Deployment asks for more than one: the embedded store is one process's,
// so the others could only crash-loop on its lock (or, on a volume several
// nodes can mount, wait forever). It reads the pod's ReplicaSet and that
// one's Deployment. Outside a pod, or with a store several replicas share,
// there is nothing to check; when the check itself cannot be made (no
// rights, no apiserver yet) it says so and lets the manager start, since
// the volume's ReadWriteOncePod access mode still keeps a second pod away.
func checkReplicas(ctx context.Context, spec backend.Spec) error {
	name, ns := os.Getenv(podNameEnv), os.Getenv(podNamespaceEnv)
	if spec.Shared() || name == "" || ns == "" {
		return nil
	}
	n, owner, err := desiredReplicas(ctx, ns, name)
	if err != nil {
		setupLog.Error(err, "could not check how many replicas the Deployment asks for; starting anyway", "store", spec.String())
		return nil
	}
	if n > 1 {
		return fmt.Errorf("%s asks for %d replicas, but the store %s is an embedded database that one process opens: "+
			"run one replica, or use a PostgreSQL store (--store=postgres://..., config/postgres) for several (docs/operations.md#scaling)",
			owner, n, spec)
	}
	return nil
}

// desiredReplicas is the replica count the pod's owners ask for: its
// ReplicaSet's, or the ReplicaSet's Deployment's when that is higher (a
// rollout in progress).
func desiredReplicas(ctx context.Context, ns, pod string) (int32, string, error) {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return 0, "", err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, "", err
	}
	p, err := cs.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return 0, "", err
	}
	rsRef := metav1.GetControllerOf(p)
	if rsRef == nil || rsRef.Kind != "ReplicaSet" {
		return 1, "pod " + pod, nil
	}
	rs, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, rsRef.Name, metav1.GetOptions{})
	if err != nil {
		return 0, "", err
	}
	n, owner := int32(1), "ReplicaSet "+rs.Name
	if rs.Spec.Replicas != nil {
		n = *rs.Spec.Replicas
	}
	if dRef := metav1.GetControllerOf(rs); dRef != nil && dRef.Kind == "Deployment" {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, dRef.Name, metav1.GetOptions{})
		if err != nil {
			return 0, "", err
		}
		owner = "Deployment " + d.Name
		if d.Spec.Replicas != nil && *d.Spec.Replicas > n {
			n = *d.Spec.Replicas
		}
	}
	return n, owner, nil
}
