//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// The manager binary as make builds it reports its version on --version
// and on the build_info metric, and its probes pass once it serves MCP.
func TestVersionProbesAndBuildInfo(t *testing.T) {
	// --version needs nothing: no kubeconfig, no data dir, no flag values.
	cmd := exec.Command(os.Getenv("MANAGER_BINARY"), "--version", "--data-dir=/nonexistent", "--default-ttl=not-a-duration")
	cmd.Env = []string{"KUBECONFIG=/nonexistent"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("manager --version: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`^mcp-session-operator (\S+) \(revision (\S+), (go\S+), (\S+/\S+)\)\n$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("manager --version printed %q, want one line: mcp-session-operator VERSION (revision R, goX, os/arch)", out)
	}
	version, revision, goVersion := m[1], m[2], m[3]
	sub, err := exec.Command(os.Getenv("MANAGER_BINARY"), "version").Output()
	if err != nil || string(sub) != string(out) {
		t.Errorf("manager version printed %q (%v), want what --version printed, %q", sub, err, out)
	}

	probes, metrics := freeAddr(t), freeAddr(t)
	startManager(t, "--health-probe-bind-address="+probes, "--metrics-bind-address="+metrics)
	for _, path := range []string{"/healthz", "/readyz?verbose"} {
		code, body := get(t, "http://"+probes+path)
		if code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
		if path == "/readyz?verbose" && !strings.Contains(body, "[+]mcp ok") {
			t.Errorf("GET %s does not report the MCP readiness check:\n%s", path, body)
		}
	}
	_, body := get(t, "http://"+metrics+"/metrics")
	want := fmt.Sprintf(`mcpsession_build_info{goversion=%q,revision=%q,version=%q} 1`, goVersion, revision, version)
	if !strings.Contains(body, want+"\n") {
		t.Errorf("metrics lack %s; build_info lines: %q", want, grepLines(body, "mcpsession_build_info"))
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func grepLines(s, substr string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}
