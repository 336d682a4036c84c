package mcpserver

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// validSessionID explains, in words a model can act on, why a session_id is
// not usable as a McpSession name (a DNS-1123 subdomain).
func validSessionID(id string) error {
	if id == "" {
		return userErrorf("session_id is required: name the session, e.g. %q", "debug-memory-leak-2025-09")
	}
	if errs := validation.IsDNS1123Subdomain(id); len(errs) > 0 {
		return userErrorf("invalid session_id %q: a session id must be a DNS-1123 subdomain name: at most 253 characters, only lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. %q)",
			id, "debug-memory-leak-2025-09")
	}
	return nil
}

// validNamespace explains why a namespace is not a Kubernetes namespace name.
func validNamespace(ns string) error {
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return userErrorf("invalid namespace %q: a namespace is a DNS-1123 label: at most 63 characters, only lowercase letters, digits and '-', starting and ending with a letter or digit", ns)
	}
	return nil
}

// sessionURI is the resource URI of a session.
func sessionURI(namespace, name string) string {
	return "mcpsession://" + namespace + "/" + name
}

// parseSessionURI splits mcpsession://{namespace}/{name}.
func parseSessionURI(uri string) (namespace, name string, err error) {
	rest, ok := strings.CutPrefix(uri, "mcpsession://")
	if !ok {
		return "", "", userErrorf("resource URI %q is not of the form mcpsession://{namespace}/{name}", uri)
	}
	namespace, name, ok = strings.Cut(rest, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", userErrorf("resource URI %q is not of the form mcpsession://{namespace}/{name}", uri)
	}
	if err := validNamespace(namespace); err != nil {
		return "", "", err
	}
	if err := validSessionID(name); err != nil {
		return "", "", err
	}
	return namespace, name, nil
}

// History cursors are the sequence number of the next message, written as
// "seq-<n>" so a model does not mistake them for a count or an offset.
func encodeCursor(seq uint64) string {
	if seq == 0 {
		return ""
	}
	return "seq-" + strconv.FormatUint(seq, 10)
}

func decodeCursor(cursor string) (uint64, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(cursor, "seq-"), 10, 64)
	if err != nil || !strings.HasPrefix(cursor, "seq-") || n == 0 {
		return 0, userErrorf("invalid cursor %q: pass the next_cursor value of a previous get_history result, or omit it to start from the first message", cursor)
	}
	return n, nil
}

// Listing cursors (list_sessions, resources/list) are opaque to clients:
// the namespace and the name a page ended with, base64url-encoded behind
// a version, so a cursor is only good for the namespace it came from and
// the format can change without clients noticing.
const listCursorVersion = "l1"

func encodeListCursor(namespace, after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(listCursorVersion + "/" + namespace + "/" + after))
}

// decodeListCursor returns the name the previous page ended with ("" for
// no cursor), or a caller error for a cursor not made by
// encodeListCursor for this namespace.
func decodeListCursor(cursor, namespace, what string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	parts := strings.SplitN(string(raw), "/", 3)
	if err != nil || len(parts) != 3 || parts[0] != listCursorVersion || parts[2] == "" {
		return "", userErrorf("invalid cursor %q: pass the next_cursor of a previous %s result unchanged, or omit it to start from the beginning", cursor, what)
	}
	if parts[1] != namespace {
		return "", userErrorf("cursor %q belongs to a listing of namespace %q, not %q: start again without a cursor", cursor, parts[1], namespace)
	}
	return parts[2], nil
}

// clampLimit applies a default and a maximum to a caller's limit.
func clampLimit(limit, def, max int) (int, error) {
	switch {
	case limit < 0:
		return 0, userErrorf("limit must be positive, got %d", limit)
	case limit == 0:
		return def, nil
	case limit > max:
		return max, nil
	}
	return limit, nil
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
