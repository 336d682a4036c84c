// Package document is the JSON session format of the tutorial the project
// grew from, the one way sessions move in and out of the operator: the MCP
// tools export_session and import_session, the session resource, and the
// manager's export and import subcommands all speak it.
//
// It parses a document (leniently, as the tutorial's own files vary),
// validates it, plans an import (Plan: the document's records with their
// times and relevances parsed, ready for the store to check against its
// rules and limits and write in one batch) and exports a session's records
// back into a document (Export, Write, WriteFile).
//
// The package does no I/O on sessions: the store (internal/store) reads and
// writes the records, this package only speaks the format.
package document
