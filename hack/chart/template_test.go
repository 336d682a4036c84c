package main

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The templater writes each kind of token at the indentation of the line it
// lands on, and escapes the `{{` the object already holds.
func TestTemplaterRendersTokensInPlace(t *testing.T) {
	tp := newTemplater()
	o := Object{
		"kind": "Example",
		"metadata": map[string]any{
			"name":   tp.scalar("{{ .Release.Name }}"),
			"labels": map[string]any{"a": "b", tp.lines("with .Values.labels", "{{- toYaml . | nindent __N__ }}"): ""},
		},
		"spec": map[string]any{
			"legend":    "{{pod}} on {{node}}",
			"resources": tp.block(".Values.resources"),
			"args":      []any{"--fixed", tp.lines("with .Values.extra", `{{ printf "--extra=%s" . | quote }}`)},
			tp.lines("with .Values.nodeSelector", "nodeSelector:", "  {{- toYaml . | nindent __N2__ }}"): "",
		},
	}
	got, err := tp.render(o)
	if err != nil {
		t.Fatal(err)
	}
	want := `kind: Example
metadata:
  labels:
    a: b
    {{- with .Values.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  name: {{ .Release.Name }}
spec:
  args:
  - --fixed
  {{- with .Values.extra }}
  - {{ printf "--extra=%s" . | quote }}
  {{- end }}
  legend: '{{ "{{" }}pod}} on {{ "{{" }}node}}'
  resources:
  {{- toYaml .Values.resources | nindent 4 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
`
	if got != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
	}
}

// minimalInstaller is the smallest installer the generator accepts.
func minimalInstaller() []Object {
	return []Object{
		{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "op-system"}},
		{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "op", "namespace": "op-system"},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
				"name": "manager", "image": "registry.example.com:5000/op:1.0.0", "imagePullPolicy": "IfNotPresent",
				"resources": map[string]any{"requests": map[string]any{"cpu": "1"}},
				"ports":     []any{map[string]any{"name": "mcp", "containerPort": float64(8090)}},
				"args": []any{"--mcp-bind-address=:8090", "--mcp-token-audience=op", "--default-idle-timeout=1m",
					"--default-ttl=2m", "--default-retention=3m"},
			}}}}}},
		{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "op-mcp", "namespace": "op-system"},
			"spec": map[string]any{"ports": []any{map[string]any{"name": "mcp", "port": float64(8090)}}}},
		{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "op-data", "namespace": "op-system"},
			"spec": map[string]any{"resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}}},
	}
}

// postgresOf is an installer's PostgreSQL build, as config/postgres makes
// it: two replicas, no claim, the store's URL from a Secret.
func postgresOf(installer []Object) []Object {
	var objs []Object
	for _, o := range installer {
		if o.Kind() == "PersistentVolumeClaim" {
			continue
		}
		b, err := yaml.Marshal(o)
		if err != nil {
			panic(err)
		}
		var c Object
		if err := yaml.Unmarshal(b, &c); err != nil {
			panic(err)
		}
		if c.Kind() == "Deployment" {
			c["spec"].(map[string]any)["replicas"] = float64(2)
			m := named(field(c, "spec", "template", "spec", "containers"), "manager")
			env, _ := m["env"].([]any)
			m["env"] = append([]any{map[string]any{"name": "MCPSESSION_STORE", "valueFrom": map[string]any{
				"secretKeyRef": map[string]any{"name": "op-store", "key": "url"}}}}, env...)
		}
		objs = append(objs, c)
	}
	return objs
}

// Every default comes from the installer.
func TestGenerateTakesDefaultsFromTheInstaller(t *testing.T) {
	files, err := Generate(Inputs{Installer: minimalInstaller(), Postgres: postgresOf(minimalInstaller())}, Options{Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	values := files["values.yaml"]
	for _, want := range []string{"repository: registry.example.com:5000/op\n", "port: 8090\n", "tokenAudience: op\n",
		"idleTimeout: 1m\n", "ttl: 2m\n", "retention: 3m\n", "size: 1Gi\n", "    cpu: \"1\"\n", "pullPolicy: IfNotPresent\n", "replicas: 2\n"} {
		if !strings.Contains(values, want) {
			t.Errorf("values.yaml lacks %q:\n%s", want, values)
		}
	}
	if !strings.Contains(files["Chart.yaml"], "version: 1.0.0\nappVersion: \"1.0.0\"\n") {
		t.Errorf("Chart.yaml:\n%s", files["Chart.yaml"])
	}
}

// An installer the chart could not reproduce is refused, saying why.
func TestGenerateRefusesWhatItCannotTemplate(t *testing.T) {
	cases := []struct {
		name   string
		change func([]Object)
		want   string
		// pg, when set, changes the PostgreSQL build instead.
		pg bool
	}{
		{"a flag the values set is missing", func(o []Object) {
			c := named(field(o[1], "spec", "template", "spec", "containers"), "manager")
			c["args"] = c["args"].([]any)[:4]
		}, "lack --default-retention", false},
		{"the Service's port is not the server's", func(o []Object) {
			named(field(o[2], "spec", "ports"), "mcp")["port"] = float64(80)
		}, "the Service's port mcp is 80", false},
		{"config sets a field a value owns", func(o []Object) {
			o[3]["spec"].(map[string]any)["storageClassName"] = "fast"
		}, "store.pebble.storageClassName owns", false},
		{"a reference to the namespace the generator does not know", func(o []Object) {
			o[2]["metadata"].(map[string]any)["annotations"] = map[string]any{"peer": "x.op-system.svc"}
		}, "still names the namespace op-system", false},
		{"no Namespace", func(o []Object) { o[0]["kind"] = "ConfigMap" }, "no Namespace", false},
		{"the PostgreSQL build changes an object the chart does not template", func(o []Object) {
			o[2]["spec"].(map[string]any)["type"] = "NodePort"
		}, "Service/op-mcp differs between config/default and config/postgres", true},
		{"the PostgreSQL build's arguments are not the installer's", func(o []Object) {
			c := named(field(o[1], "spec", "template", "spec", "containers"), "manager")
			c["args"] = append(c["args"].([]any), "--extra")
		}, "without --store", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs := minimalInstaller()
			pg := postgresOf(objs)
			if c.pg {
				c.change(pg)
			} else {
				c.change(objs)
				pg = postgresOf(objs)
			}
			_, err := Generate(Inputs{Installer: objs, Postgres: pg}, Options{Version: "1.0.0"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Generate: %v, want an error saying %q", err, c.want)
			}
		})
	}
}
