package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore/pgtest"
	"github.com/mcp-session-operator/mcp-session-operator/internal/version"
)

const tutorial = "../internal/document/testdata/tutorial-memory-leak.json"

// runArgs runs the program as main would, with in as stdin, and returns
// what it wrote to stdout.
func runArgs(t *testing.T, in string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(args, stdio{in: strings.NewReader(in), out: &out, err: &errOut})
	return out.String(), err
}

// TestTransferRoundTrip imports the tutorial's session document through the
// CLI into a real store and exports it again, through files and through
// stdin and stdout.
func TestTransferRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want, err := os.ReadFile(tutorial)
	if err != nil {
		t.Fatal(err)
	}
	in, err := document.Parse(want)
	if err != nil {
		t.Fatal(err)
	}

	args := []string{"import", "--data-dir", dir, "--uid", "u-1", "--namespace", "payments", "--name", "debug-memory-leak", "-f", tutorial}
	if _, err := runArgs(t, "", args...); err != nil {
		t.Fatalf("import: %v", err)
	}
	if _, err := runArgs(t, "", args...); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second import without --replace: got %v, want store.ErrExists", err)
	}
	if _, err := runArgs(t, string(want), "import", "--data-dir", dir, "--uid", "u-2", "--name", "from-stdin"); err != nil {
		t.Fatalf("import from stdin: %v", err)
	}

	out, err := runArgs(t, "", "export", "--data-dir", dir, "--uid", "u-1", "--state", "suspended")
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	got, err := document.Parse([]byte(out))
	if err != nil {
		t.Fatalf("exported document does not parse: %v\n%s", err, out)
	}
	if got.State != "suspended" || len(got.Context) != len(in.Context) || len(got.Discoveries) != len(in.Discoveries) || len(got.ConversationHistory) != len(in.ConversationHistory) {
		t.Fatalf("round trip lost data: state %q, context %d/%d discoveries %d/%d messages %d/%d", got.State,
			len(got.Context), len(in.Context), len(got.Discoveries), len(in.Discoveries), len(got.ConversationHistory), len(in.ConversationHistory))
	}
	if len(in.Context) == 0 || len(in.ConversationHistory) == 0 {
		t.Fatal("test document is empty")
	}
	file := filepath.Join(t.TempDir(), "out.json")
	if _, err := runArgs(t, "", "export", "--data-dir", dir, "--uid", "u-2", "-f", file); err != nil {
		t.Fatalf("export to a file: %v", err)
	}
	if data, err := os.ReadFile(file); err != nil || !bytes.Contains(data, []byte(`"id": "from-stdin"`)) {
		t.Fatalf("exported file: %v\n%.200s", err, data)
	}
}

// Bad command lines are usage errors (exit status 2) that say what is
// wrong; a failed export leaves no file behind.
func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"export", "--data-dir", dir},
		{"import", "--data-dir", dir, "--uid", "u"},
		{"export", "--data-dir", dir, "--uid", "u", "extra"},
		{"export", "--no-such-flag"},
		{"no-such-command"},
	} {
		_, err := runArgs(t, "", args...)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
	file := filepath.Join(t.TempDir(), "x.json")
	if _, err := runArgs(t, "", "export", "--data-dir", dir, "--uid", "nope", "-f", file); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("export of an unknown uid: %v, want store.ErrNotFound", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 0 {
		t.Fatalf("a failed export left files behind: %v", entries)
	}
	if _, err := runArgs(t, "not json", "import", "--data-dir", dir, "--uid", "u", "--name", "n"); !errors.Is(err, document.ErrInvalid) {
		t.Fatalf("import of a bad document: %v, want document.ErrInvalid", err)
	}
	if u := usage(); !strings.Contains(u, "manager export") || !strings.Contains(u, "manager import") {
		t.Fatalf("usage does not list the subcommands:\n%s", u)
	}
}

// The version is a command like the others, and --version answers before
// any other flag is looked at.
func TestVersionCommand(t *testing.T) {
	want := version.String() + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"--data-dir=/nonexistent", "--version", "--default-ttl=bogus"}} {
		out, err := runArgs(t, "", args...)
		if err != nil || out != want {
			t.Errorf("%q printed %q (%v), want %q", args, out, err, want)
		}
	}
	if _, err := runArgs(t, "", "version", "extra"); err == nil {
		t.Error("version with an argument succeeded")
	}
	if !strings.Contains(usage(), "manager version") {
		t.Errorf("usage does not list the version command:\n%s", usage())
	}
}

// manager migrate copies every session of a store into another (Pebble to
// Pebble always; Pebble to PostgreSQL when a server is at hand), checks
// every copy, and will not overwrite without --replace.
func TestMigrate(t *testing.T) {
	from := t.TempDir()
	for _, uid := range []string{"u-1", "u-2"} {
		if _, err := runArgs(t, "", "import", "--store", "pebble:"+from, "--uid", uid, "--namespace", "payments", "--name", "debug-"+uid, "-f", tutorial); err != nil {
			t.Fatal(err)
		}
	}
	targets := []string{"pebble:" + t.TempDir()}
	if pgtest.SkipReason() == "" {
		targets = append(targets, pgtest.NewDatabase(t))
	} else {
		t.Log("migration to PostgreSQL not tested: " + pgtest.SkipReason())
	}
	for _, to := range targets {
		var errOut bytes.Buffer
		err := run([]string{"migrate", "--from", "pebble:" + from, "--to", to}, stdio{in: strings.NewReader(""), out: io.Discard, err: &errOut})
		if err != nil || !strings.Contains(errOut.String(), "migrated 2 sessions (14 messages)") {
			t.Fatalf("migrate to %s: %v\n%s", to, err, errOut.String())
		}
		for _, uid := range []string{"u-1", "u-2"} {
			a, err1 := runArgs(t, "", "export", "--store", "pebble:"+from, "--uid", uid)
			b, err2 := runArgs(t, "", "export", "--store", to, "--uid", uid)
			if err1 != nil || err2 != nil || a != b {
				t.Fatalf("%s exports differently after the migration (%v, %v):\n%s\n%s", uid, err1, err2, a, b)
			}
		}
		if _, err := runArgs(t, "", "migrate", "--from", "pebble:"+from, "--to", to); err == nil || !strings.Contains(err.Error(), "--replace") {
			t.Fatalf("a second migration without --replace: %v", err)
		}
		if _, err := runArgs(t, "", "migrate", "--from", "pebble:"+from, "--to", to, "--replace"); err != nil {
			t.Fatalf("migrate --replace: %v", err)
		}
	}
	var ue *usageError
	if _, err := runArgs(t, "", "migrate", "--from", "pebble:"+from); !errors.As(err, &ue) {
		t.Fatalf("migrate without --to: %v, want a usage error", err)
	}
}
