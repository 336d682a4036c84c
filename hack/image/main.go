// Command image builds a container image from one static binary, with no
// Docker daemon: an empty base plus one layer holding the binary, written
// as a docker-archive tarball that `docker load`, `kind load image-archive`
// and `ctr -n k8s.io images import` accept. `make image` builds the
// manager's image with it; the one-node cluster builds its pause, CoreDNS
// and test agent images the same way. The same binary and flags always
// give the same digest (timestamps come from SOURCE_DATE_EPOCH, default 0).
//
//	image --binary bin/image/manager --tag mcp-session-operator:0.1.0 --out dist/image.tar
//	image inspect dist/image.tar
//
// Building prints the image's digest (sha256:...) as the last line of
// stdout; inspect prints "key: value" lines (tag, digest, platform, user,
// entrypoint, files...).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// run is the command line: "inspect FILE", or a build (optionally spelt
// "build") with flags.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && args[0] == "inspect" {
		if len(args) != 2 {
			return errors.New("usage: image inspect FILE")
		}
		s, err := Inspect(args[1])
		if err != nil {
			return err
		}
		s.Print(stdout)
		return nil
	}
	if len(args) > 0 && args[0] == "build" {
		args = args[1:]
	}
	return runBuild(args, stdout, stderr, getenv)
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runBuild(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tags, env listFlag
	binary := fs.String("binary", "", "Static binary to put into the image (required).")
	at := fs.String("path", "", "Where the binary goes in the image (default: / + its file name).")
	fs.Var(&tags, "tag", "Image reference with an explicit tag, e.g. mcp-session-operator:0.1.0 (required; repeat for more tags).")
	out := fs.String("out", "", "docker-archive tarball to write (required).")
	entrypoint := fs.String("entrypoint", "", `Entrypoint: a path, or a JSON array such as ["/coredns","-conf","/etc/Corefile"] (default: the binary's --path).`)
	cmd := fs.String("cmd", "", "Command (arguments after the entrypoint): a word or a JSON array (default: none).")
	user := fs.String("user", "65532:65532", "User the image runs as: uid or uid:gid, numeric.")
	fs.Var(&env, "env", "Environment entry KEY=VALUE (repeatable).")
	platform := fs.String("platform", runtime.GOOS+"/"+runtime.GOARCH, "Platform recorded in the image config: os/architecture[/variant].")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *binary == "" {
		return errors.New("--binary is required")
	}
	spec := Spec{Binary: *binary, Path: *at, User: *user, Env: env}
	if spec.Path == "" {
		spec.Path = "/" + filepath.Base(*binary)
	}
	spec.Path = path.Clean(spec.Path)
	for _, t := range tags {
		tag, err := parseTag(t)
		if err != nil {
			return err
		}
		spec.Tags = append(spec.Tags, tag)
	}
	var err error
	if spec.Entrypoint, err = parseList("entrypoint", *entrypoint); err != nil {
		return err
	}
	if *entrypoint == "" {
		spec.Entrypoint = []string{spec.Path}
	}
	if spec.Cmd, err = parseList("cmd", *cmd); err != nil {
		return err
	}
	if spec.Platform, err = parsePlatform(*platform); err != nil {
		return err
	}
	if spec.Created, err = createdTime(getenv("SOURCE_DATE_EPOCH")); err != nil {
		return err
	}
	// Refuse an unwritable output before reading a large binary.
	if _, err := outputDir(*out); err != nil {
		return err
	}
	img, err := Build(spec)
	if err != nil {
		return err
	}
	if err := WriteArchive(*out, spec.Tags, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	size := int64(0)
	if fi, err := os.Stat(*out); err == nil {
		size = fi.Size()
	}
	fmt.Fprintf(stderr, "image: wrote %s (%s, %s, %s as %s, %.1f MiB)\n",
		*out, strings.Join(tags, ", "), *platform, spec.Path, spec.User, float64(size)/(1<<20))
	fmt.Fprintln(stdout, digest)
	return nil
}
