package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Spec is one image to build: a single static binary on an empty base.
type Spec struct {
	// Binary is the file on this machine to put into the image.
	Binary string
	// Path is where it goes in the image (absolute).
	Path string
	// Tags name the image in the archive's manifest.json (RepoTags).
	Tags []name.Tag
	// Entrypoint and Cmd as in the image config.
	Entrypoint, Cmd []string
	// User is uid[:gid]: numeric, since the image has no /etc/passwd.
	User string
	// Env entries, KEY=VALUE.
	Env []string
	// Platform is the os/architecture[/variant] recorded in the config.
	Platform v1.Platform
	// Created stamps the config, its history and every tar header, so the
	// same binary always gives the same digest.
	Created time.Time
}

// parseTag accepts a reference with an explicit tag: an image without one
// would be "latest", which kubelets always try to pull again.
func parseTag(ref string) (name.Tag, error) {
	if strings.Contains(ref, "@") {
		return name.Tag{}, fmt.Errorf("bad tag %q: give a tag (name:tag), not a digest", ref)
	}
	t, err := name.NewTag(ref)
	if err != nil {
		return name.Tag{}, fmt.Errorf("bad tag %q: %w", ref, err)
	}
	if !strings.HasSuffix(ref, ":"+t.TagStr()) || strings.HasSuffix(t.RepositoryStr(), ":"+t.TagStr()) {
		return name.Tag{}, fmt.Errorf("bad tag %q: name the tag explicitly (for example %s:0.1.0); an untagged image is \"latest\", which is always pulled again", ref, ref)
	}
	return t, nil
}

// parsePlatform parses os/architecture[/variant].
func parsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" || p.OSVersion != "" {
		return v1.Platform{}, fmt.Errorf("bad platform %q: want os/architecture[/variant], for example linux/amd64", s)
	}
	return *p, nil
}

// parseList reads an entrypoint or command: a JSON array of strings, or a
// single word.
func parseList(flagName, s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if !strings.HasPrefix(strings.TrimSpace(s), "[") {
		return []string{s}, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("bad --%s %s: not a JSON array of strings: %w", flagName, s, err)
	}
	return l, nil
}

// createdTime is SOURCE_DATE_EPOCH (seconds since 1970, the
// reproducible-builds convention) when set, else the epoch itself.
func createdTime(sourceDateEpoch string) (time.Time, error) {
	if sourceDateEpoch == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("bad SOURCE_DATE_EPOCH %q: want whole seconds since 1970", sourceDateEpoch)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// validate checks everything that does not need the binary's contents.
func (s *Spec) validate() error {
	if len(s.Tags) == 0 {
		return errors.New("--tag is required")
	}
	if !path.IsAbs(s.Path) || path.Clean(s.Path) != s.Path || s.Path == "/" {
		return fmt.Errorf("bad --path %q: want an absolute, clean file path such as /manager", s.Path)
	}
	if len(s.Entrypoint) == 0 && len(s.Cmd) == 0 {
		return errors.New("the image would have neither an entrypoint nor a command")
	}
	if err := checkUser(s.User); err != nil {
		return err
	}
	for _, e := range s.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("bad --env %q: want KEY=VALUE", e)
		}
	}
	return nil
}

// checkUser accepts uid or uid:gid. Names cannot be resolved in an image
// without /etc/passwd, so they are refused here rather than at run time.
func checkUser(u string) error {
	uid, gid, hasGID := strings.Cut(u, ":")
	if !numericID(uid) || (hasGID && !numericID(gid)) {
		return fmt.Errorf("bad --user %q: want uid or uid:gid, numeric (the image has no /etc/passwd)", u)
	}
	return nil
}

func numericID(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// readBinary reads the binary after checking it is an executable file, and,
// for a linux image, a static ELF executable for the image's architecture:
// the image holds nothing else, so a dynamically linked binary would fail
// to start with a bare "no such file or directory".
func readBinary(file string, p v1.Platform) ([]byte, error) {
	fi, err := os.Stat(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("binary %s does not exist", file)
		}
		return nil, fmt.Errorf("binary: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("binary %s is not a regular file", file)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("binary %s is not executable (mode %04o)", file, fi.Mode().Perm())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	if p.OS == "linux" {
		if err := checkELF(file, data, p.Architecture); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// elfMachines maps GOARCH to the ELF machine of its binaries.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"ppc64le": elf.EM_PPC64, "ppc64": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV,
	"loong64": elf.EM_LOONGARCH, "mips64le": elf.EM_MIPS, "mipsle": elf.EM_MIPS,
}

func checkELF(file string, data []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("binary %s is not an ELF executable, so it cannot run in a linux image with nothing else in it: %v", file, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("binary %s is an ELF %s, not an executable", file, f.Type)
	}
	if want, ok := elfMachines[arch]; ok && f.Machine != want {
		return fmt.Errorf("binary %s is built for %s, not for the image's architecture %s (build with GOARCH=%s, or pass --platform)", file, f.Machine, arch, arch)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("binary %s is dynamically linked; the image has no libc or loader: build it static (CGO_ENABLED=0)", file)
		}
	}
	return nil
}

// outputDir checks that out can be written: its folder exists and out is
// not itself a folder.
func outputDir(out string) (string, error) {
	if out == "" {
		return "", errors.New("--out is required")
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return "", fmt.Errorf("cannot write %s: it is a directory", out)
	}
	dir := filepath.Dir(out)
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("cannot write %s: %w", out, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("cannot write %s: %s is not a directory", out, dir)
	}
	return dir, nil
}
