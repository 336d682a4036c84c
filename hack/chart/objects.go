package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Object is one Kubernetes object as kustomize wrote it.
type Object map[string]any

// Kind is the object's kind.
func (o Object) Kind() string { s, _ := o["kind"].(string); return s }

// Name is metadata.name.
func (o Object) Name() string { s, _ := o.meta()["name"].(string); return s }

// Namespace is metadata.namespace ("" for cluster-scoped objects).
func (o Object) Namespace() string { s, _ := o.meta()["namespace"].(string); return s }

// String names the object in errors.
func (o Object) String() string { return o.Kind() + "/" + o.Name() }

func (o Object) meta() map[string]any { m, _ := o["metadata"].(map[string]any); return m }

// Inputs are the kustomize builds the chart is made from.
type Inputs struct {
	// Installer is `kustomize build config/default`: what dist/install.yaml holds.
	Installer []Object
	// Monitoring is `kustomize build config/prometheus`: the optional component.
	Monitoring []Object
	// Postgres is `kustomize build config/postgres`: the installer on
	// PostgreSQL (dist/install-postgres.yaml), which store.postgres renders.
	Postgres []Object
}

func buildInputs(kustomize, config string) (Inputs, error) {
	var in Inputs
	var err error
	if in.Installer, err = kustomizeBuild(kustomize, filepath.Join(config, "default")); err != nil {
		return in, err
	}
	if in.Monitoring, err = kustomizeBuild(kustomize, filepath.Join(config, "prometheus")); err != nil {
		return in, err
	}
	if in.Postgres, err = kustomizeBuild(kustomize, filepath.Join(config, "postgres")); err != nil {
		return in, err
	}
	return in, nil
}

func kustomizeBuild(kustomize, dir string) ([]Object, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(kustomize, "build", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w\n%s", dir, err, stderr.String())
	}
	objs, err := ParseObjects(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return objs, nil
}

// ParseObjects reads a multi-document YAML stream, skipping empty documents.
func ParseObjects(b []byte) ([]Object, error) {
	var objs []Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var o Object
		if err := yaml.Unmarshal(doc, &o); err != nil {
			return nil, fmt.Errorf("%w in:\n%s", err, doc)
		}
		if len(o) > 0 {
			objs = append(objs, o)
		}
	}
}

// field returns the value at path (map keys), or nil.
func field(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// mapAt returns the map at path, creating the maps on the way.
func mapAt(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	return m
}

// named returns the element of a list of maps whose "name" is name.
func named(list any, name string) map[string]any {
	items, _ := list.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}
