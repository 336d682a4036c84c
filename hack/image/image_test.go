package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// testBinary compiles a tiny static linux binary for this machine's
// architecture, once per test run.
func testBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "image-test-bin-")
		if err != nil {
			binErr = err
			return
		}
		src := filepath.Join(dir, "main.go")
		if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"hello from the image\") }\n"), 0o644); err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "hello")
		cmd := exec.Command("go", "build", "-trimpath", "-o", binPath, src)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// copyBinary copies the test binary to a new folder, so builds from
// different places can be compared.
func copyBinary(t *testing.T, name string, mode os.FileMode) string {
	t.Helper()
	data, err := os.ReadFile(testBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

var platform = "linux/" + runtime.GOARCH

// build runs the command line and returns the digest it printed last.
func build(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(args, &stdout, &stderr, func(k string) string { return env[k] })
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return lines[len(lines)-1], err
}

func TestBuildAndReadBack(t *testing.T) {
	bin := copyBinary(t, "manager", 0o700)
	out := filepath.Join(t.TempDir(), "image.tar")
	digest, err := build(t, nil, "--binary", bin, "--tag", "mcp-session-operator:0.1.0", "--out", out, "--platform", platform, "--env", "A=b")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
		t.Fatalf("last line of stdout %q is not a digest", digest)
	}

	tag, err := name.NewTag("mcp-session-operator:0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if d, err := img.Digest(); err != nil || d.String() != digest {
		t.Errorf("digest read back %v (%v), printed %s", d, err, digest)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || !equal(c.Entrypoint, []string{"/manager"}) || c.WorkingDir != "/" || !equal(c.Env, []string{"A=b"}) || len(c.Cmd) != 0 {
		t.Errorf("config %+v: want user 65532:65532, entrypoint [/manager], workdir /, env [A=b], no cmd", c)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want %s", cf.OS, cf.Architecture, platform)
	}
	epoch := time.Unix(0, 0).UTC()
	if !cf.Created.Time.Equal(epoch) || len(cf.History) != 1 || !cf.History[0].Created.Time.Equal(epoch) {
		t.Errorf("created %v, history %+v: want everything at the epoch", cf.Created, cf.History)
	}
	if strings.Contains(cf.History[0].CreatedBy, filepath.Dir(bin)) {
		t.Errorf("history %q names the build machine's path", cf.History[0].CreatedBy)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "manager" || h.Typeflag != tar.TypeReg || h.Mode&0o7777 != 0o755 || h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
		t.Errorf("layer entry %s type %c mode %04o owner %d:%d mtime %v: want manager, a file, 0755, 0:0, the epoch", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime)
	}
	got, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(bin)
	if !bytes.Equal(got, want) {
		t.Errorf("the layer's file differs from the binary (%d vs %d bytes)", len(got), len(want))
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("the layer holds more than the binary: %v", err)
	}

	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(out) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || !equal(m[0].RepoTags, []string{"mcp-session-operator:0.1.0"}) {
		t.Errorf("manifest.json %+v: want one image tagged mcp-session-operator:0.1.0", m)
	}
}

// TestReproducible builds the same binary twice, from different folders to
// different files: same digest, same bytes. Another timestamp gives
// another digest.
func TestReproducible(t *testing.T) {
	var digests []string
	var sums [][32]byte
	for i := 0; i < 2; i++ {
		bin := copyBinary(t, "manager", 0o755)
		out := filepath.Join(t.TempDir(), fmt.Sprintf("image-%d.tar", i))
		d, err := build(t, nil, "--binary", bin, "--tag", "mcp-session-operator:0.1.0", "--out", out, "--platform", platform)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		digests, sums = append(digests, d), append(sums, sha256.Sum256(data))
	}
	if digests[0] != digests[1] || sums[0] != sums[1] {
		t.Errorf("two builds of one binary differ: digests %v, archive sums %x / %x", digests, sums[0], sums[1])
	}

	out := filepath.Join(t.TempDir(), "later.tar")
	d, err := build(t, map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}, "--binary", copyBinary(t, "manager", 0o755), "--tag", "mcp-session-operator:0.1.0", "--out", out, "--platform", platform)
	if err != nil {
		t.Fatal(err)
	}
	if d == digests[0] {
		t.Errorf("SOURCE_DATE_EPOCH did not change the digest")
	}
	s, err := Inspect(out)
	if err != nil {
		t.Fatal(err)
	}
	if s.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("created %s, want SOURCE_DATE_EPOCH 1700000000 = 2023-11-14T22:13:20Z", s.Created)
	}
}

// TestNestedPathAndOptions puts the binary below folders, with its own
// entrypoint, command, user and two tags, and checks it with Inspect.
func TestNestedPathAndOptions(t *testing.T) {
	out := filepath.Join(t.TempDir(), "agent.tar")
	digest, err := build(t, nil, "build", "--binary", copyBinary(t, "hello", 0o755), "--path", "/usr/local/bin/agent",
		"--entrypoint", `["/usr/local/bin/agent","-v"]`, "--cmd", `["play"]`, "--user", "1000",
		"--tag", "agent:1", "--tag", "registry.local:5000/team/agent:v2", "--out", out, "--platform", platform)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Inspect(out)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	s.Print(&buf)
	text := buf.String()
	for _, want := range []string{
		"tag: agent:1\n", "tag: registry.local:5000/team/agent:v2\n", "digest: " + digest + "\n",
		"platform: " + platform + "\n", "user: 1000\n",
		`entrypoint: ["/usr/local/bin/agent","-v"]` + "\n", `cmd: ["play"]` + "\n", "workdir: /\n", "layers: 1\n",
		"dir: /usr 0755 0:0 0\n", "dir: /usr/local 0755 0:0 0\n", "dir: /usr/local/bin 0755 0:0 0\n",
		"file: /usr/local/bin/agent 0755 0:0 ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, text)
		}
	}
}

// TestBadInput: every refusal says what is wrong, and neither creates the
// output nor changes an existing one, nor leaves a temporary file behind.
func TestBadInput(t *testing.T) {
	good := copyBinary(t, "manager", 0o755)
	notExec := copyBinary(t, "manager", 0o644)
	script := filepath.Join(t.TempDir(), "run.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(aFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	otherArch := "linux/arm64"
	if runtime.GOARCH == "arm64" {
		otherArch = "linux/amd64"
	}

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string // besides --out, which each case gets unless it sets its own
		want string
	}{
		{"no binary flag", nil, []string{"--tag", "a:1"}, "--binary is required"},
		{"missing binary", nil, []string{"--binary", "/nonexistent/manager", "--tag", "a:1"}, "does not exist"},
		{"binary is a folder", nil, []string{"--binary", t.TempDir(), "--tag", "a:1"}, "not a regular file"},
		{"binary not executable", nil, []string{"--binary", notExec, "--tag", "a:1"}, "not executable"},
		{"not an ELF binary", nil, []string{"--binary", script, "--tag", "a:1"}, "not an ELF executable"},
		{"wrong architecture", nil, []string{"--binary", good, "--tag", "a:1", "--platform", otherArch}, "not for the image's architecture"},
		{"no tag flag", nil, []string{"--binary", good}, "--tag is required"},
		{"untagged reference", nil, []string{"--binary", good, "--tag", "mcp-session-operator"}, "name the tag explicitly"},
		{"registry port but no tag", nil, []string{"--binary", good, "--tag", "localhost:5000/op"}, "name the tag explicitly"},
		{"empty tag", nil, []string{"--binary", good, "--tag", "op:"}, "bad tag"},
		{"upper-case repository", nil, []string{"--binary", good, "--tag", "Op:1"}, "bad tag"},
		{"digest instead of tag", nil, []string{"--binary", good, "--tag", "op@sha256:" + strings.Repeat("a", 64)}, "not a digest"},
		{"relative path", nil, []string{"--binary", good, "--tag", "a:1", "--path", "manager"}, "bad --path"},
		{"user name", nil, []string{"--binary", good, "--tag", "a:1", "--user", "nobody"}, "bad --user"},
		{"user without gid", nil, []string{"--binary", good, "--tag", "a:1", "--user", "65532:"}, "bad --user"},
		{"bad env", nil, []string{"--binary", good, "--tag", "a:1", "--env", "NOVALUE"}, "bad --env"},
		{"bad entrypoint", nil, []string{"--binary", good, "--tag", "a:1", "--entrypoint", `["/x",`}, "bad --entrypoint"},
		{"bad platform", nil, []string{"--binary", good, "--tag", "a:1", "--platform", "linux"}, "bad platform"},
		{"bad SOURCE_DATE_EPOCH", map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, []string{"--binary", good, "--tag", "a:1"}, "bad SOURCE_DATE_EPOCH"},
		{"stray argument", nil, []string{"--binary", good, "--tag", "a:1", "extra"}, "unexpected arguments"},
		{"no out flag", nil, []string{"--binary", good, "--tag", "a:1", "--out", ""}, "--out is required"},
		{"out folder missing", nil, []string{"--binary", good, "--tag", "a:1", "--out", "/nonexistent/dir/image.tar"}, "cannot write"},
		{"out below a file", nil, []string{"--binary", good, "--tag", "a:1", "--out", filepath.Join(aFile, "image.tar")}, "not a directory"},
		{"out is a folder", nil, []string{"--binary", good, "--tag", "a:1", "--out", t.TempDir()}, "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "image.tar")
			if err := os.WriteFile(out, []byte("previous"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"--out", out, "--platform", platform}, tc.args...)
			_, err := build(t, tc.env, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
			entries, _ := os.ReadDir(dir)
			if data, _ := os.ReadFile(out); string(data) != "previous" || len(entries) != 1 {
				t.Errorf("the refusal touched the output folder: %v, image.tar now %q", entries, data)
			}
		})
	}
}

func TestInspectBadInput(t *testing.T) {
	notArchive := filepath.Join(t.TempDir(), "x.tar")
	if err := os.WriteFile(notArchive, []byte("not a tarball"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect"}, "usage"},
		{[]string{"inspect", "/nonexistent.tar"}, "no such file"},
		{[]string{"inspect", notArchive}, "not a docker-archive"},
	} {
		if err := run(tc.args, io.Discard, io.Discard, os.Getenv); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func equal(a, b []string) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// The archive is also an OCI image layout whose index names the printed
// digest: what containerd imports as is, so an installer pinned to that
// digest finds the image after `ctr images import` or `kind load`.
func TestArchiveIsAnOCILayoutWithThePrintedDigest(t *testing.T) {
	bin := copyBinary(t, "manager", 0o700)
	out := filepath.Join(t.TempDir(), "image.tar")
	digest, err := build(t, nil, "--binary", bin, "--tag", "mcp-session-operator:0.1.0", "--tag", "example.com/ops/mcp:v1", "--out", out, "--platform", platform)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("not an OCI image layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"docker.io/library/mcp-session-operator:0.1.0": "0.1.0", "example.com/ops/mcp:v1": "v1"}
	if len(im.Manifests) != len(want) {
		t.Fatalf("index.json has %d manifests, want one per tag (%d)", len(im.Manifests), len(want))
	}
	for _, m := range im.Manifests {
		if m.Digest.String() != digest {
			t.Errorf("index.json names digest %s, the tool printed %s", m.Digest, digest)
		}
		ref := m.Annotations["io.containerd.image.name"]
		if tag, ok := want[ref]; !ok || m.Annotations["org.opencontainers.image.ref.name"] != tag {
			t.Errorf("index.json entry annotated %v", m.Annotations)
		}
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if d, err := img.Digest(); err != nil || d.String() != digest {
			t.Errorf("the layout's image has digest %v (%v), want %s", d, err, digest)
		}
		if _, err := img.Layers(); err != nil {
			t.Errorf("the layout's layers: %v", err)
		}
	}
}
