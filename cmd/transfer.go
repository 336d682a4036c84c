package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// export and import move one session between a store and the tutorial's
// JSON document format, for migrating sessions from file-based tools. A
// Pebble store allows one process at a time, so against one they run on
// the data dir of a stopped manager (or a copy of the volume); a
// PostgreSQL store can be used while managers run. A running server offers
// the same through the export_session and import_session MCP tools.

var exportCommand = command{
	name:    "export",
	summary: "write one session of a store as a JSON document",
	flags: func(fs *flag.FlagSet) func(stdio) error {
		f := addSessionFlags(fs, "JSON document to write; - for stdout.")
		state := fs.String("state", "", "Value of the document's state field (active, suspended, terminated).")
		return func(io stdio) error {
			return f.withStore(func(st store.Store) error {
				doc, err := st.Export(context.Background(), *f.uid)
				if err != nil {
					return err
				}
				doc.State = *state
				if *f.file == "-" {
					return document.Write(io.out, doc, document.WriteOptions{})
				}
				return document.WriteFile(*f.file, doc, document.WriteOptions{})
			})
		}
	},
}

var importCommand = command{
	name:    "import",
	summary: "store a JSON document as one session of a store",
	flags: func(fs *flag.FlagSet) func(stdio) error {
		f := addSessionFlags(fs, "JSON document to read; - for stdin.")
		namespace := fs.String("namespace", "default", "Namespace recorded with the session.")
		name := fs.String("name", "", "McpSession name recorded with the session.")
		replace := fs.Bool("replace", false, "Replace the session's data if it already exists.")
		return func(io stdio) error {
			if *name == "" {
				return usagef("--name is required")
			}
			in := io.in
			if *f.file != "-" {
				file, err := os.Open(*f.file)
				if err != nil {
					return err
				}
				defer file.Close()
				in = file
			}
			doc, err := document.Decode(in)
			if err != nil {
				return err
			}
			return f.withStore(func(st store.Store) error {
				ref := store.SessionRef{UID: *f.uid, Namespace: *namespace, Name: *name}
				h, err := st.Import(context.Background(), ref, doc, store.ImportOptions{Replace: *replace})
				if err != nil {
					return err
				}
				fmt.Fprintf(io.err, "imported %s/%s (uid %s): %d context items, %d messages, %d discoveries\n",
					h.Namespace, h.Name, h.UID, h.ContextItems, h.Messages, h.Discoveries)
				return nil
			})
		}
	},
}

// sessionFlags are what export and import share: which store, which
// session in it, which file.
type sessionFlags struct {
	store     *storeFlag
	uid, file *string
}

func addSessionFlags(fs *flag.FlagSet, fileUsage string) sessionFlags {
	return sessionFlags{
		store: addStoreFlag(fs, "store", "data-dir", "The session store"),
		uid:   fs.String("uid", "", "UID of the McpSession (kubectl get mcps NAME -o jsonpath='{.metadata.uid}')."),
		file:  fs.String("f", "-", fileUsage),
	}
}

// withStore checks the flags, opens the store for fn and closes it after,
// whatever fn returns.
func (f sessionFlags) withStore(fn func(store.Store) error) error {
	if *f.uid == "" {
		return usagef("--uid is required")
	}
	spec, err := f.store.resolve()
	if err != nil {
		return err
	}
	return withStore(context.Background(), spec, fn)
}
