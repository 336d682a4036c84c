package document

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteOptions shape a written document.
type WriteOptions struct {
	// Compact writes one line instead of the tutorial's two-space indent.
	Compact bool
}

// Write writes doc to w as JSON, with "<" and "&" left as they are:
// content is conversation text, for humans and diffs.
func Write(w io.Writer, doc *Document, opts WriteOptions) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if !opts.Compact {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write session document: %w", err)
	}
	return nil
}

// WriteFile writes doc to path atomically: a temporary file in the same
// directory is written, fsynced and renamed over path, so a crash leaves
// either the old file or the complete new one. The file is created with
// mode 0600 because sessions hold conversation content.
func WriteFile(path string, doc *Document, opts WriteOptions) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := Write(tmp, doc, opts); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: close: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Marshal is json.Marshal without HTML escaping, so text reads back byte for
// byte as written ("<b>" stays "<b>", not "\u003cb\u003e"). Documents are
// written with it, and the store writes its records with it too.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
