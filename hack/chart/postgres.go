package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// The chart's store.postgres renders config/postgres (the installer on
// PostgreSQL: several replicas, no volume, the store's URL from a Secret)
// when store.postgres.secretName is set. The generator reads both builds
// and turns each difference into a condition on that value, refusing a
// difference it does not know how to template, so the overlay and the
// chart cannot drift apart silently.
const (
	onPostgres = ".Values.store.postgres.secretName"
	onPebble   = "not .Values.store.postgres.secretName"
)

// objectKey identifies an object across the two builds.
func objectKey(o Object) string { return o.Kind() + " " + o.Namespace() + "/" + o.Name() }

// storeConditions compares the installer with the PostgreSQL build: an
// object of only one of them is rendered only with that store, and every
// object of both but the Deployment must be the same.
func storeConditions(installer, postgres []Object) (only map[string]string, pgDeployment Object, pgOnly []Object, err error) {
	only = map[string]string{}
	pg := map[string]Object{}
	for _, o := range postgres {
		pg[objectKey(o)] = o
	}
	for _, o := range installer {
		p, ok := pg[objectKey(o)]
		switch {
		case !ok:
			only[objectKey(o)] = onPebble
		case o.Kind() == "Deployment":
			pgDeployment = p
		case !reflect.DeepEqual(o, p):
			return nil, nil, nil, fmt.Errorf("%s differs between config/default and config/postgres, and the chart templates only the Deployment's differences", o)
		}
		delete(pg, objectKey(o))
	}
	for _, o := range postgres {
		if _, ok := pg[objectKey(o)]; ok {
			only[objectKey(o)] = onPostgres
			pgOnly = append(pgOnly, o)
		}
	}
	if pgDeployment == nil {
		return nil, nil, nil, fmt.Errorf("config/postgres has no Deployment of the installer's name")
	}
	return only, pgDeployment, pgOnly, nil
}

// postgresDeployment templates the differences of the PostgreSQL build's
// Deployment pd on the installer's o, before anything else templates o.
func (g *generator) postgresDeployment(t *templater, o, pd Object) error {
	spec, _ := o["spec"].(map[string]any)
	pspec, _ := pd["spec"].(map[string]any)
	if r := toInt(spec["replicas"]); spec["replicas"] != nil && r != 1 {
		return fmt.Errorf("the installer runs %d replicas; the Pebble store allows one", r)
	}
	g.values.PostgresReplicas = toInt(pspec["replicas"])
	if g.values.PostgresReplicas < 1 {
		return fmt.Errorf("config/postgres sets no replicas")
	}
	spec["replicas"] = t.scalar("{{ if " + onPostgres + " }}{{ .Values.store.postgres.replicas }}{{ else }}1{{ end }}")
	if !reflect.DeepEqual(spec["strategy"], pspec["strategy"]) {
		if spec["strategy"] == nil || pspec["strategy"] == nil {
			return fmt.Errorf("the strategy must be set in both builds to differ")
		}
		spec["strategy"] = t.choice(onPostgres, pspec["strategy"], spec["strategy"])
	}
	for _, k := range keysOf(spec, pspec) {
		if k != "replicas" && k != "strategy" && k != "template" && !reflect.DeepEqual(spec[k], pspec[k]) {
			return fmt.Errorf("spec.%s differs between the builds", k)
		}
	}
	pod, _ := field(o, "spec", "template", "spec").(map[string]any)
	ppod, _ := field(pd, "spec", "template", "spec").(map[string]any)
	if !reflect.DeepEqual(field(o, "spec", "template", "metadata"), field(pd, "spec", "template", "metadata")) {
		return fmt.Errorf("the pod template's metadata differs between the builds")
	}
	for _, k := range keysOf(pod, ppod) {
		switch _, inInstaller := pod[k]; {
		case k == "containers" || k == "volumes":
		case !inInstaller:
			pod[t.lines("if "+onPostgres, yamlLines(map[string]any{k: ppod[k]})...)] = ""
		case !reflect.DeepEqual(pod[k], ppod[k]):
			return fmt.Errorf("the pod's %s differs between the builds", k)
		}
	}
	var err error
	if pod["volumes"], err = pebbleOnlyItems(t, pod["volumes"], ppod["volumes"], "volumes"); err != nil {
		return err
	}
	cs, _ := pod["containers"].([]any)
	pcs, _ := ppod["containers"].([]any)
	if len(cs) != 1 || len(pcs) != 1 {
		return fmt.Errorf("want one container in each build")
	}
	return g.postgresContainer(t, cs[0].(map[string]any), pcs[0].(map[string]any))
}

// postgresContainer templates the manager container's differences: the
// Pebble store's --store argument and volume mount, and the environment
// variable holding the store's URL from the Secret.
func (g *generator) postgresContainer(t *templater, c, pc map[string]any) error {
	args, _ := c["args"].([]any)
	pargs, _ := pc["args"].([]any)
	var kept []any
	for i, a := range args {
		if s, _ := a.(string); strings.HasPrefix(s, "--store=") {
			args[i] = t.lines("if "+onPebble, s)
			continue
		}
		kept = append(kept, a)
	}
	if !reflect.DeepEqual(kept, pargs) {
		return fmt.Errorf("config/postgres's arguments must be config/default's without --store: %v", pargs)
	}
	var err error
	if c["volumeMounts"], err = pebbleOnlyItems(t, c["volumeMounts"], pc["volumeMounts"], "volumeMounts"); err != nil {
		return err
	}
	env, _ := c["env"].([]any)
	penv, _ := pc["env"].([]any)
	if len(penv) != len(env)+1 || (len(env) > 0 && !reflect.DeepEqual(penv[1:], env)) {
		return fmt.Errorf("config/postgres's environment must be config/default's after one variable, the store's URL")
	}
	store, _ := penv[0].(map[string]any)
	ref, _ := field(store, "valueFrom", "secretKeyRef").(map[string]any)
	if ref == nil || len(store) != 2 {
		return fmt.Errorf("config/postgres's first variable is not the store's URL from a Secret")
	}
	c["env"] = append([]any{t.lines("if "+onPostgres,
		"name: "+fmt.Sprint(store["name"]),
		"valueFrom:",
		"  secretKeyRef:",
		"    key: {{ .Values.store.postgres.secretKey | quote }}",
		"    name: {{ .Values.store.postgres.secretName | quote }}")}, env...)
	for _, k := range keysOf(c, pc) {
		if k != "args" && k != "volumeMounts" && k != "env" && !reflect.DeepEqual(c[k], pc[k]) {
			return fmt.Errorf("the container's %s differs between the builds", k)
		}
	}
	return nil
}

// pebbleOnlyItems makes the items of list (named maps) that plist lacks
// conditional on the Pebble store; plist must hold no other item.
func pebbleOnlyItems(t *templater, list, plist any, what string) (any, error) {
	items, _ := list.([]any)
	pitems, _ := plist.([]any)
	var kept []any
	for i, it := range items {
		m, _ := it.(map[string]any)
		if named(plist, fmt.Sprint(m["name"])) == nil {
			items[i] = t.lines("if "+onPebble, yamlLines(m)...)
			continue
		}
		kept = append(kept, it)
	}
	if len(kept) != len(pitems) || (len(kept) > 0 && !reflect.DeepEqual(kept, pitems)) {
		return nil, fmt.Errorf("config/postgres's %s must be config/default's without the Pebble store's", what)
	}
	if items == nil {
		return list, nil
	}
	return items, nil
}

// keysOf is every key of a and b, each once, sorted.
func keysOf(a, b map[string]any) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	// Sorted: the tokens made while walking them get the same numbers,
	// and so the same order in the YAML, on every run.
	sort.Strings(keys)
	return keys
}

// yamlLines is v written as YAML, a line each.
func yamlLines(v any) []string {
	b, err := yaml.Marshal(v)
	if err != nil {
		panic(err) // values read from YAML always write back
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}
