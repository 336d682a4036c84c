package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// TestTransferRoundTrip imports the tutorial's session document through the
// CLI into a real store and exports it again.
func TestTransferRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "internal", "store", "testdata", "tutorial-memory-leak.json")
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	in, err := store.ParseDocument(want)
	if err != nil {
		t.Fatal(err)
	}

	args := []string{"--data-dir", dir, "--uid", "u-1", "--namespace", "payments", "--name", "debug-memory-leak", "-f", src}
	if err := runTransfer("import", args, nil, nil); err != nil {
		t.Fatalf("import: %v", err)
	}
	if err := runTransfer("import", args, nil, nil); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second import without --replace: got %v, want an 'exists' error", err)
	}

	var out bytes.Buffer
	if err := runTransfer("export", []string{"--data-dir", dir, "--uid", "u-1"}, nil, &out); err != nil {
		t.Fatalf("export: %v", err)
	}
	got, err := store.ParseDocument(out.Bytes())
	if err != nil {
		t.Fatalf("exported document does not parse: %v\n%s", err, out.String())
	}
	if len(got.Context) != len(in.Context) || len(got.Discoveries) != len(in.Discoveries) || len(got.ConversationHistory) != len(in.ConversationHistory) {
		t.Fatalf("round trip lost data: context %d/%d discoveries %d/%d messages %d/%d",
			len(got.Context), len(in.Context), len(got.Discoveries), len(in.Discoveries), len(got.ConversationHistory), len(in.ConversationHistory))
	}
	if len(in.Context) == 0 || len(in.ConversationHistory) == 0 {
		t.Fatal("test document is empty")
	}

	if err := runTransfer("export", []string{"--data-dir", dir}, nil, &out); err == nil {
		t.Fatal("export without --uid must fail")
	}
	if err := runTransfer("export", []string{"--data-dir", dir, "--uid", "nope"}, nil, &out); err == nil {
		t.Fatal("export of an unknown uid must fail")
	}
}
