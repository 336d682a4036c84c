package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The provisioner serves the default StorageClass as kind's
// local-path-provisioner does: for each claim the scheduler has placed on
// the node, a directory and a `local` PersistentVolume bound to that claim;
// when a released volume's policy is Delete, the directory and the volume
// go. It polls: a one-node cluster has few claims, and polling has no
// watch to lose.

const (
	annProvisioner  = "volume.kubernetes.io/storage-provisioner"
	annSelectedNode = "volume.kubernetes.io/selected-node"
	annProvisioned  = "pv.kubernetes.io/provisioned-by"
)

func cmdProvisioner(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("provisioner", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "Kubeconfig of the cluster.")
	dir := fs.String("dir", "", "Folder that holds the volumes' directories.")
	_ = fs.Parse(args)
	cs, err := clientset(*kubeconfig)
	if err != nil {
		return err
	}
	p := provisioner{cs: cs, dir: *dir}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		if err := p.sync(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "%s provisioner: %v\n", time.Now().Format(time.RFC3339), err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

type provisioner struct {
	cs  kubernetes.Interface
	dir string
}

func (p provisioner) sync(ctx context.Context) error {
	claims, err := p.cs.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range claims.Items {
		c := &claims.Items[i]
		if c.Status.Phase == corev1.ClaimPending && c.Spec.VolumeName == "" &&
			c.Annotations[annProvisioner] == provisionerName && c.Annotations[annSelectedNode] != "" {
			if err := p.provision(ctx, c); err != nil {
				fmt.Fprintf(os.Stderr, "provisioning %s/%s: %v\n", c.Namespace, c.Name, err)
			}
		}
	}
	vols, err := p.cs.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, v := range vols.Items {
		if v.Annotations[annProvisioned] == provisionerName && v.Status.Phase == corev1.VolumeReleased &&
			v.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete && v.Spec.Local != nil {
			if err := os.RemoveAll(v.Spec.Local.Path); err != nil {
				return err
			}
			err := p.cs.CoreV1().PersistentVolumes().Delete(ctx, v.Name, metav1.DeleteOptions{
				Preconditions: &metav1.Preconditions{UID: &v.UID, ResourceVersion: &v.ResourceVersion}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return err
			}
		}
	}
	return nil
}

func (p provisioner) provision(ctx context.Context, c *corev1.PersistentVolumeClaim) error {
	name := "pvc-" + string(c.UID)
	path := filepath.Join(p.dir, name)
	// Group- and world-writable like local-path-provisioner's directories:
	// the kubelet applies the pod's fsGroup, but a pod without one and a
	// non-root user must still be able to write.
	if err := os.MkdirAll(path, 0o777); err != nil {
		return err
	}
	if err := os.Chmod(path, 0o777); err != nil {
		return err
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if c.Spec.StorageClassName != nil {
		if sc, err := p.cs.StorageV1().StorageClasses().Get(ctx, *c.Spec.StorageClassName, metav1.GetOptions{}); err == nil && sc.ReclaimPolicy != nil {
			reclaim = *sc.ReclaimPolicy
		}
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{annProvisioned: provisionerName}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: c.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   c.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              ptrValue(c.Spec.StorageClassName),
			VolumeMode:                    c.Spec.VolumeMode,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: c.Namespace, Name: c.Name, UID: c.UID},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: path}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{c.Annotations[annSelectedNode]}}},
			}}}},
		},
	}
	_, err := p.cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func ptrValue(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
