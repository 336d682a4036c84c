// Package transfer moves sessions between the store and tutorial-format JSON
// files or streams, for the manager's export/import subcommand.
package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// ExportOptions shape an exported document.
type ExportOptions struct {
	// State fills the document's "state" field ("active", "suspended",
	// "terminated"). The store does not track lifecycle, so only the caller,
	// which can read the McpSession, knows it; empty omits the field.
	State string
	// Compact writes one line instead of the tutorial's two-space indent.
	Compact bool
}

// Export writes session uid to w as a tutorial-format JSON document.
func Export(ctx context.Context, st *store.Store, uid string, w io.Writer, opts ExportOptions) error {
	doc, err := st.Export(ctx, uid)
	if err != nil {
		return err
	}
	doc.State = opts.State
	enc := json.NewEncoder(w)
	// Content is conversation text; "<" must stay "<" for humans and diffs.
	enc.SetEscapeHTML(false)
	if !opts.Compact {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write session %s: %w", uid, err)
	}
	return nil
}

// ExportToFile writes session uid to path atomically: a temporary file in
// the same directory is written, fsynced and renamed over path, so a crash
// leaves either the old file or the complete new one. The file is created
// with mode 0600 because sessions hold conversation content.
func ExportToFile(ctx context.Context, st *store.Store, uid, path string, opts ExportOptions) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("export session %s: %w", uid, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := Export(ctx, st, uid, tmp, opts); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("export session %s: sync %s: %w", uid, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("export session %s: close %s: %w", uid, tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("export session %s: %w", uid, err)
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

// Import reads one tutorial-format document from r and stores it as ref, in
// one atomic batch (see store.Store.Import). The whole document is held in
// memory while importing.
func Import(ctx context.Context, st *store.Store, ref store.SessionRef, r io.Reader, opts store.ImportOptions) (store.Header, error) {
	doc, err := store.DecodeDocument(r)
	if err != nil {
		return store.Header{}, fmt.Errorf("import session %s: %w", ref.UID, err)
	}
	return st.Import(ctx, ref, doc, opts)
}

// ImportFromFile is Import reading from the file at path.
func ImportFromFile(ctx context.Context, st *store.Store, ref store.SessionRef, path string, opts store.ImportOptions) (store.Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return store.Header{}, fmt.Errorf("import session %s: %w", ref.UID, err)
	}
	defer f.Close()
	return Import(ctx, st, ref, f, opts)
}
