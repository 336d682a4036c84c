// Command chart writes the operator's Helm chart from config/, so that the
// chart and the kustomize installer never drift: it builds config/default
// (the installer) and config/prometheus (the monitoring component) with
// kustomize, turns each object into a template, replacing the fields that
// values set, and takes every value's default from the object it came
// from. `make helm-chart` writes charts/mcp-session-operator with it;
// `make release` writes a copy pinned to the image's digest.
//
//	chart --kustomize bin/kustomize --config config --out charts/mcp-session-operator --version 0.1.0 [--repository R --digest sha256:...]
//
// With default values the chart renders the installer's objects, with the
// differences Helm needs (its labels, keep policies, the Namespace left to
// `helm install --create-namespace`); the test in this package proves it
// against `helm template`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("chart", flag.ContinueOnError)
	kustomize := fs.String("kustomize", "kustomize", "kustomize binary.")
	config := fs.String("config", "config", "The kustomize tree: its default/ and prometheus/ are built.")
	out := fs.String("out", "", "Chart directory to (re)write (required).")
	version := fs.String("version", "", "Chart version and appVersion, the release version (required).")
	digest := fs.String("digest", "", "Image digest (sha256:...) to pin in values.yaml; empty: the tag alone.")
	repository := fs.String("repository", "", "Image repository for values.yaml; empty: the installer's.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *out == "" || *version == "" {
		return errors.New("--out and --version are required")
	}
	in, err := buildInputs(*kustomize, *config)
	if err != nil {
		return err
	}
	files, err := Generate(in, Options{Version: *version, Digest: *digest, Repository: *repository})
	if err != nil {
		return err
	}
	return files.Write(*out)
}
