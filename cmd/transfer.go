package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/transfer"
)

// runTransfer handles `manager export` and `manager import`, which move one
// session between the store and the tutorial's JSON document format, for
// migrating sessions from file-based tools. The store allows one process at a
// time, so these run against the data dir of a stopped manager (or a copy of
// the volume); a running server offers the same through the export_session
// and import_session MCP tools.
func runTransfer(cmd string, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	dataDir := fs.String("data-dir", "/data", "Folder of the session store.")
	uid := fs.String("uid", "", "UID of the McpSession (kubectl get mcps NAME -o jsonpath='{.metadata.uid}').")
	file := fs.String("f", "-", "JSON document to write (export) or read (import); - for stdout/stdin.")
	namespace := fs.String("namespace", "default", "import: namespace recorded with the session.")
	name := fs.String("name", "", "import: McpSession name recorded with the session.")
	replace := fs.Bool("replace", false, "import: replace the session's data if it already exists.")
	state := fs.String("state", "", "export: value of the document's state field (active, suspended, terminated).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *uid == "" {
		return errors.New("--uid is required")
	}
	st, err := store.Open(*dataDir, store.Options{})
	if err != nil {
		return fmt.Errorf("open store %s (is a manager still running on it?): %w", *dataDir, err)
	}
	defer st.Close()
	ctx := context.Background()

	switch cmd {
	case "export":
		opts := transfer.ExportOptions{State: *state}
		if *file == "-" {
			return transfer.Export(ctx, st, *uid, stdout, opts)
		}
		return transfer.ExportToFile(ctx, st, *uid, *file, opts)
	default:
		if *name == "" {
			return errors.New("--name is required for import")
		}
		ref := store.SessionRef{UID: *uid, Namespace: *namespace, Name: *name}
		opts := store.ImportOptions{Replace: *replace}
		var h store.Header
		if *file == "-" {
			h, err = transfer.Import(ctx, st, ref, stdin, opts)
		} else {
			h, err = transfer.ImportFromFile(ctx, st, ref, *file, opts)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "imported %s/%s (uid %s): %d context items, %d messages, %d discoveries\n",
			h.Namespace, h.Name, h.UID, h.ContextItems, h.Messages, h.Discoveries)
		return nil
	}
}
