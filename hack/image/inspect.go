package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Summary is what `image inspect` reports about an archive.
type Summary struct {
	Tags       []string
	Digest     v1.Hash // of the manifest, as Build prints it
	ConfigID   v1.Hash // of the config: the image ID docker shows
	Platform   string
	User       string
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	Created    string
	Layers     int
	Files      []FileEntry
}

// FileEntry is one entry of the image's layers.
type FileEntry struct {
	Path     string
	Mode     int64
	UID, GID int
	Size     int64
	Dir      bool
}

// Inspect reads a docker-archive tarball holding one image.
func Inspect(file string) (Summary, error) {
	if _, err := os.Stat(file); err != nil {
		return Summary{}, fmt.Errorf("inspect: %w", err)
	}
	opener := func() (io.ReadCloser, error) { return os.Open(file) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return Summary{}, fmt.Errorf("inspect %s: not a docker-archive tarball: %w", file, err)
	}
	if len(m) != 1 {
		return Summary{}, fmt.Errorf("inspect %s: holds %d images, want 1", file, len(m))
	}
	img, err := tarball.Image(opener, nil)
	if err != nil {
		return Summary{}, fmt.Errorf("inspect %s: %w", file, err)
	}
	var s Summary
	s.Tags = m[0].RepoTags
	if s.Digest, err = img.Digest(); err != nil {
		return Summary{}, err
	}
	if s.ConfigID, err = img.ConfigName(); err != nil {
		return Summary{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Summary{}, err
	}
	s.Platform = cf.OS + "/" + cf.Architecture
	if cf.Variant != "" {
		s.Platform += "/" + cf.Variant
	}
	s.User, s.Entrypoint, s.Cmd, s.Env, s.WorkingDir = cf.Config.User, cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.Env, cf.Config.WorkingDir
	s.Created = cf.Created.UTC().Format("2006-01-02T15:04:05Z")
	layers, err := img.Layers()
	if err != nil {
		return Summary{}, err
	}
	s.Layers = len(layers)
	for _, l := range layers {
		files, err := layerFiles(l)
		if err != nil {
			return Summary{}, err
		}
		s.Files = append(s.Files, files...)
	}
	return s, nil
}

func layerFiles(l v1.Layer) ([]FileEntry, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []FileEntry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read layer: %w", err)
		}
		out = append(out, FileEntry{
			Path: "/" + strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/"),
			Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid, Size: h.Size,
			Dir: h.Typeflag == tar.TypeDir,
		})
	}
}

// Print writes the summary as "key: value" lines, one fact per line, for
// people and for grep in scripts.
func (s Summary) Print(w io.Writer) {
	list := func(l []string) string {
		if l == nil {
			l = []string{}
		}
		b, _ := json.Marshal(l)
		return string(b)
	}
	for _, t := range s.Tags {
		fmt.Fprintf(w, "tag: %s\n", t)
	}
	fmt.Fprintf(w, "digest: %s\n", s.Digest)
	fmt.Fprintf(w, "config: %s\n", s.ConfigID)
	fmt.Fprintf(w, "platform: %s\n", s.Platform)
	fmt.Fprintf(w, "user: %s\n", s.User)
	fmt.Fprintf(w, "entrypoint: %s\n", list(s.Entrypoint))
	fmt.Fprintf(w, "cmd: %s\n", list(s.Cmd))
	for _, e := range s.Env {
		fmt.Fprintf(w, "env: %s\n", e)
	}
	fmt.Fprintf(w, "workdir: %s\n", s.WorkingDir)
	fmt.Fprintf(w, "created: %s\n", s.Created)
	fmt.Fprintf(w, "layers: %d\n", s.Layers)
	for _, f := range s.Files {
		kind := "file"
		if f.Dir {
			kind = "dir"
		}
		fmt.Fprintf(w, "%s: %s %04o %d:%d %d\n", kind, f.Path, f.Mode, f.UID, f.GID, f.Size)
	}
}
