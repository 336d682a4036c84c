package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// migrate copies every session of one store into another, typically a
// Pebble install's volume into the PostgreSQL database it moves to. Each
// session is exported from the source and imported into the destination
// (one transaction per session, all of it or nothing), then exported again
// from the destination and compared with the source's export byte for
// byte. Sessions keep their UIDs, so the McpSession objects find their
// data where they are. Limits are not applied: the data was accepted once.
var migrateCommand = command{
	name:    "migrate",
	summary: "copy every session of a store into another (a stopped Pebble install into PostgreSQL)",
	flags: func(fs *flag.FlagSet) func(stdio) error {
		from := addStoreFlag(fs, "from", "", "The store to copy from")
		to := addStoreFlag(fs, "to", "", "The store to copy into")
		replace := fs.Bool("replace", false, "Overwrite sessions the destination already holds (otherwise they stop the migration).")
		return func(io stdio) error {
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			if !set["from"] || !set["to"] {
				return usagef("--from and --to are both required")
			}
			src, err := from.resolve()
			if err != nil {
				return err
			}
			dst, err := to.resolve()
			if err != nil {
				return err
			}
			if src == dst {
				return usagef("--from and --to name the same store")
			}
			ctx := context.Background()
			return withStore(ctx, src, func(a store.Store) error {
				return withStore(ctx, dst, func(b store.Store) error {
					n, msgs, err := migrateStore(ctx, a, b, *replace)
					fmt.Fprintf(io.err, "migrated %d sessions (%d messages) from %s to %s", n, msgs, src, dst)
					if err == nil {
						fmt.Fprintln(io.err, "; every session exports identically from both")
					} else {
						fmt.Fprintln(io.err)
					}
					return err
				})
			})
		}
	},
}

// migrateStore copies every session of from into to and checks each copy.
func migrateStore(ctx context.Context, from, to store.Store, replace bool) (sessions int, messages int64, err error) {
	err = from.Sessions(ctx, func(h store.Header) error {
		doc, err := from.Export(ctx, h.UID)
		if err != nil {
			return err
		}
		if _, err := to.Import(ctx, h.Ref(), doc, store.ImportOptions{Replace: replace}); err != nil {
			if errors.Is(err, store.ErrExists) {
				return fmt.Errorf("session %s (%s/%s) is already in the destination: nothing of it was written; --replace overwrites it", h.UID, h.Namespace, h.Name)
			}
			return fmt.Errorf("session %s (%s/%s): %w", h.UID, h.Namespace, h.Name, err)
		}
		copied, err := to.Export(ctx, h.UID)
		if err != nil {
			return err
		}
		a, errA := document.Marshal(doc)
		b, errB := document.Marshal(copied)
		if err := errors.Join(errA, errB); err != nil {
			return err
		}
		if !bytes.Equal(a, b) {
			return fmt.Errorf("session %s (%s/%s) exports differently from the destination than from the source", h.UID, h.Namespace, h.Name)
		}
		sessions++
		messages += h.Messages
		return nil
	})
	return sessions, messages, err
}
