package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// WriteArchive writes img, tagged with tags, as one tarball in both of the
// formats `docker save` (Docker 25 and later) writes: an OCI image layout
// (oci-layout, index.json, blobs/sha256/...) and the docker-archive
// manifest.json beside it, naming the same blobs. `docker load` reads
// either; `ctr images import` and `kind load image-archive` take the OCI
// layout, which keeps the manifest as it is, so the image keeps the digest
// this tool prints (a docker-archive alone is re-manifested on import, and
// an installer pinned to the digest would not find it). It writes a
// temporary file beside out and renames it into place, so out is either
// the whole archive or untouched.
func WriteArchive(out string, tags []name.Tag, img v1.Image) error {
	dir, err := outputDir(out)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", out, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := writeLayoutArchive(f, tags, img); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	renamed = true
	return nil
}

// writeLayoutArchive writes the blobs once and both indexes over them.
func writeLayoutArchive(w io.Writer, tags []name.Tag, img v1.Image) error {
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	configName, err := img.ConfigName()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	blobPath := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

	// index.json: one entry per tag, all for the same manifest, named as
	// containerd names images (io.containerd.image.name) and as the OCI
	// layout does (org.opencontainers.image.ref.name: the tag).
	type descriptor struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	index := struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json"}
	var repoTags, layerPaths []string
	for _, t := range tags {
		index.Manifests = append(index.Manifests, descriptor{
			MediaType: string(mediaType), Digest: digest.String(), Size: len(manifest),
			Annotations: map[string]string{
				"io.containerd.image.name":          containerdName(t),
				"org.opencontainers.image.ref.name": t.TagStr(),
			},
		})
		repoTags = append(repoTags, t.String())
	}
	tw := tar.NewWriter(w)
	file := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := file(blobPath(configName), config); err != nil {
		return err
	}
	for _, l := range layers {
		h, err := l.Digest()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if err := file(blobPath(h), data); err != nil {
			return err
		}
		layerPaths = append(layerPaths, blobPath(h))
	}
	if err := file(blobPath(digest), manifest); err != nil {
		return err
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}
	if err := file("index.json", indexJSON); err != nil {
		return err
	}
	dockerManifest, err := json.Marshal([]map[string]any{{"Config": blobPath(configName), "RepoTags": repoTags, "Layers": layerPaths}})
	if err != nil {
		return err
	}
	if err := file("manifest.json", dockerManifest); err != nil {
		return err
	}
	return tw.Close()
}

// containerdName is a tag as containerd names images: Docker Hub is
// docker.io (go-containerregistry says index.docker.io).
func containerdName(t name.Tag) string {
	reg := t.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + t.RepositoryStr() + ":" + t.TagStr()
}
