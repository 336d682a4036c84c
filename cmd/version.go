package main

import (
	"flag"
	"fmt"

	"github.com/mcp-session-operator/mcp-session-operator/internal/version"
)

var versionCommand = command{
	name:    "version",
	summary: "print the version and build information (also: manager --version)",
	flags: func(*flag.FlagSet) func(stdio) error {
		return printVersion
	},
}

func printVersion(io stdio) error {
	_, err := fmt.Fprintln(io.out, version.String())
	return err
}

// wantsVersion reports whether the command line asks for the version:
// `manager version`, or --version (-version) anywhere before a "--".
func wantsVersion(args []string) bool {
	if len(args) > 0 && args[0] == "version" {
		return true
	}
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--version", "-version", "--version=true", "-version=true":
			return true
		}
	}
	return false
}
