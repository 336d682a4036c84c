package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// stdio are the streams a command reads and writes.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand of the manager binary: `manager NAME [flags]`.
type command struct {
	name string
	// summary is the one line `manager help` shows.
	summary string
	// flags declares the command's flags on fs and returns what runs once
	// they are parsed.
	flags func(fs *flag.FlagSet) func(io stdio) error
}

// commands are the subcommands, in the order usage lists them.
var commands = []command{versionCommand, exportCommand, importCommand, migrateCommand, connectCommand}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage lists the subcommands.
func usage() string {
	var b strings.Builder
	b.WriteString("Usage: manager [flags]          run the operator (manager --help lists its flags)\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "       manager %-7s [flags]  %s\n", c.name, c.summary)
	}
	return b.String()
}

// run parses the command's flags from args and runs it. A flag error is a
// *usageError (exit status 2); -h prints the flags and succeeds.
func (c command) run(args []string, io stdio) error {
	fs := flag.NewFlagSet("manager "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.err)
	do := c.flags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	return do(io)
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef builds a *usageError.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}
