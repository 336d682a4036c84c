// Package lifecycle holds the decisions of the McpSession lifecycle as pure
// functions: which settings are in force for a session, which phase it is in
// now, when its next deadline falls, and which sessions an owner quota ends.
// Nothing here performs I/O or reads a clock: callers pass the time in, so the
// controllers can be driven by a fake clock and every decision can be tested
// with a table.
package lifecycle
