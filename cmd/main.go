// Command manager runs the mcp-session-operator: the McpSession lifecycle
// controllers, the session store on the data volume and the MCP server, in one
// process so the finalizer that erases a session and the server that writes it
// share one open database.
//
// Its subcommands (see commands) print the version or work on a stopped
// manager's data instead.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	err := run(os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	if err == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "manager: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}

// run is the whole program: a subcommand when the first argument names one,
// the version for --version, else the manager with its flags. Everything it
// opens it closes before it returns, whatever the outcome, so main only
// reports the error and sets the exit status.
func run(args []string, io stdio) error {
	if len(args) > 0 {
		if c, ok := lookup(args[0]); ok {
			if err := c.run(args[1:], io); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			return nil
		}
	}
	if wantsVersion(args) {
		// Before anything that could fail: no flag values, store or
		// kubeconfig are looked at.
		return printVersion(io)
	}
	return runManager(args)
}
