// Package lifecycle holds the decisions of the McpSession lifecycle as pure
// functions: which settings and limits are in force for a session
// (SettingsFor), which phase it is in now and when its next deadline falls
// (Decide), what status that decision writes and the settings read back
// from it (ApplyDecision, SettingsFromStatus), and which sessions an owner
// quota ends or refuses (OverQuota, RefusedByQuota). The controller and the
// MCP server both decide with them, so the two never disagree.
// Nothing here performs I/O or reads a clock: callers pass the time in, so the
// controllers can be driven by a fake clock and every decision can be tested
// with a table.
package lifecycle
