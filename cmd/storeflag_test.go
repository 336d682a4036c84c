package main

import (
	"errors"
	"flag"
	"io"
	"testing"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store/backend"
)

// --store names the store; --data-dir is its older spelling for a Pebble
// folder; $MCPSESSION_STORE applies when neither is given; the default is
// Pebble in /data.
func TestStoreFlag(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want backend.Spec
		bad  bool
	}{
		{args: nil, want: backend.Spec{Kind: backend.Pebble, Dir: "/data"}},
		{args: []string{"--store=pebble:/var/lib/s"}, want: backend.Spec{Kind: backend.Pebble, Dir: "/var/lib/s"}},
		{args: []string{"--data-dir=/x"}, want: backend.Spec{Kind: backend.Pebble, Dir: "/x"}},
		{args: []string{"--store=/y"}, want: backend.Spec{Kind: backend.Pebble, Dir: "/y"}},
		{args: []string{"--store=postgres://u:p@db:5432/s"}, want: backend.Spec{Kind: backend.Postgres, URL: "postgres://u:p@db:5432/s"}},
		{args: []string{"--store=postgresql://db/s"}, want: backend.Spec{Kind: backend.Postgres, URL: "postgresql://db/s"}},
		{env: "postgres://from-env/s", args: nil, want: backend.Spec{Kind: backend.Postgres, URL: "postgres://from-env/s"}},
		{env: "postgres://from-env/s", args: []string{"--data-dir=/x"}, want: backend.Spec{Kind: backend.Pebble, Dir: "/x"}},
		{env: "postgres://from-env/s", args: []string{"--store=pebble:/z"}, want: backend.Spec{Kind: backend.Pebble, Dir: "/z"}},
		{args: []string{"--store=pebble:/a", "--data-dir=/b"}, bad: true},
		{args: []string{"--store=mysql://db/s"}, bad: true},
		{args: []string{"--store=pebble:"}, bad: true},
		{args: []string{"--store="}, bad: true},
		{args: []string{"--data-dir="}, bad: true},
	} {
		t.Setenv(StoreEnv, tc.env)
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f := addStoreFlag(fs, "store", "data-dir", "The store")
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		got, err := f.resolve()
		var ue *usageError
		switch {
		case tc.bad && !errors.As(err, &ue):
			t.Errorf("env %q args %q: err = %v, want a usage error", tc.env, tc.args, err)
		case !tc.bad && (err != nil || got != tc.want):
			t.Errorf("env %q args %q: %+v, %v; want %+v", tc.env, tc.args, got, err, tc.want)
		}
	}
}

// A URL's password never shows in what the manager logs.
func TestStoreSpecRedactsPassword(t *testing.T) {
	s, err := backend.Parse("postgres://mcp:s3cret@db.example:5432/sessions?sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "postgres://mcp:xxxxx@db.example:5432/sessions?sslmode=require" {
		t.Fatalf("String() = %q", got)
	}
}
