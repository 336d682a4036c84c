package main

import (
	"errors"
	"strings"
	"testing"
)

// TestConnectFlags: command lines that cannot work are usage errors
// (exit status 2) before anything is read from stdin. (The bridge itself
// is tested end to end in internal/e2e, with the real binary.)
func TestConnectFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "mcp.example.com/mcp"}, "want an http or https URL"},
		{[]string{"--url", "ftp://mcp.example.com/mcp"}, "want an http or https URL"},
		{[]string{"--token-file", "t", "--service-account", "payments/debug-assistant"}, "use one"},
		{[]string{"--service-account", "debug-assistant"}, "want NAMESPACE/NAME"},
		{[]string{"--service-account", "Payments/debug-assistant"}, "want NAMESPACE/NAME"},
		{[]string{"--service-account", "payments/"}, "want NAMESPACE/NAME"},
		{[]string{"--kubeconfig", "/nonexistent"}, "--service-account NAMESPACE/NAME (minted with TokenRequest) or --token-file"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		_, err := runArgs(t, "", append([]string{"connect"}, c.args...)...)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("connect %q: %v, want a usage error containing %q", c.args, err, c.want)
		}
	}
}
