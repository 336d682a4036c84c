package main

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"
)

// The chart's files that are not objects of config/: Chart.yaml and
// values.yaml (Go templates with [[ ]], filled with Values), the values'
// schema, the template helpers, NOTES.txt and .helmignore.
//
//go:embed files/Chart.yaml files/values.yaml files/values.schema.json files/_helpers.tpl files/NOTES.txt files/.helmignore
var static embed.FS

// Files are the chart's files by path relative to the chart's directory.
type Files map[string]string

func (g *generator) staticFiles() error {
	funcs := template.FuncMap{"yaml": toYAML}
	dest := map[string]string{
		"Chart.yaml": "Chart.yaml", "values.yaml": "values.yaml", "values.schema.json": "values.schema.json",
		"_helpers.tpl": "templates/_helpers.tpl", "NOTES.txt": "templates/NOTES.txt", ".helmignore": ".helmignore",
	}
	for name, to := range dest {
		b, err := fs.ReadFile(static, "files/"+name)
		if err != nil {
			return err
		}
		if name == "Chart.yaml" || name == "values.yaml" {
			tmpl, err := template.New(name).Delims("[[", "]]").Funcs(funcs).Option("missingkey=error").Parse(string(b))
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if err := tmpl.Execute(&out, g.values); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			b = out.Bytes()
		}
		g.files[to] = string(b)
	}
	return nil
}

// toYAML writes v as YAML indented by indent spaces; a scalar, an empty
// list or an empty map stays on one line.
func toYAML(v any, indent int) (string, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\n")
	if !strings.Contains(s, "\n") && !strings.Contains(s, ": ") && !strings.HasPrefix(s, "- ") {
		return s, nil
	}
	pad := strings.Repeat(" ", indent)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
}

// Write replaces the chart in dir with files. It refuses a non-empty
// directory that is not a chart, so a wrong --out removes nothing.
func (f Files) Write(dir string) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
			return fmt.Errorf("%s is not empty and holds no Chart.yaml: not removing it", dir)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	names := make([]string, 0, len(f))
	for name := range f {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f[name]), 0o644); err != nil {
			return err
		}
	}
	return nil
}
