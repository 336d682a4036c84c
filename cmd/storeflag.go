package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/backend"
)

// StoreEnv is the environment variable that names the store when --store
// is not given: a Secret's key mapped to it carries a PostgreSQL URL with
// its password, so the password never shows in the pod's arguments.
const StoreEnv = "MCPSESSION_STORE"

// storeFlag is --store and its older alias --data-dir, on the manager and
// on every command that opens a store.
type storeFlag struct {
	fs            *flag.FlagSet
	spec, dataDir *string
	name, dirName string
}

// addStoreFlag declares --store (named name) and the alias --data-dir
// (named dirName) on fs.
func addStoreFlag(fs *flag.FlagSet, name, dirName, what string) *storeFlag {
	f := &storeFlag{fs: fs, name: name, dirName: dirName}
	f.spec = fs.String(name, "", fmt.Sprintf("%s: pebble:DIR (the embedded store in a folder; default %s) or a postgres:// URL (several replicas share it). Default: $%s if set.", what, backend.DefaultSpec, StoreEnv))
	if dirName != "" {
		f.dataDir = fs.String(dirName, "", fmt.Sprintf("Same as --%s=pebble:DIR.", name))
	}
	return f
}

// resolve returns the store the command line names: --store, else
// --data-dir, else $MCPSESSION_STORE, else the default. Both flags at once
// are a usage error.
func (f *storeFlag) resolve() (backend.Spec, error) {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	s := backend.DefaultSpec
	switch {
	case set[f.name] && f.dirName != "" && set[f.dirName]:
		return backend.Spec{}, usagef("--%s and --%s name the store twice; give one", f.name, f.dirName)
	case set[f.name]:
		s = *f.spec
	case f.dirName != "" && set[f.dirName]:
		if *f.dataDir == "" {
			return backend.Spec{}, usagef("--%s is empty", f.dirName)
		}
		s = "pebble:" + *f.dataDir
	case os.Getenv(StoreEnv) != "":
		s = os.Getenv(StoreEnv)
	}
	spec, err := backend.Parse(s)
	if err != nil {
		return backend.Spec{}, &usageError{fmt.Errorf("--%s: %w", f.name, err)}
	}
	return spec, nil
}

// withStore opens the store spec names for fn and closes it after,
// whatever fn returns.
func withStore(ctx context.Context, spec backend.Spec, fn func(store.Store) error) (err error) {
	st, err := backend.Open(ctx, spec, backend.Options{})
	if err != nil {
		return fmt.Errorf("open the store %s: %w", spec, err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return fn(st)
}
