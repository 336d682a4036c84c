package store

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
)

const (
	// MaxKeyBytes bounds a context key; keys are part of every Pebble key of
	// the entry and of search hits, so they are meant to be names, not data.
	MaxKeyBytes = 256
	// maxUIDBytes is far above a Kubernetes UID (36 bytes) but keeps
	// garbage input from producing huge keys.
	maxUIDBytes = 128
	// maxNameBytes matches the longest Kubernetes name (DNS subdomain).
	maxNameBytes = 253
	// maxProjectBytes keeps the header, which is rewritten on every write,
	// small.
	maxProjectBytes = 1024
)

// Roles accepted for messages: the tutorial's user/assistant/system plus
// tool, which MCP clients record for tool results.
var validRoles = map[string]bool{"user": true, "assistant": true, "system": true, "tool": true}

// DefaultRelevance is used when a discovery does not state one, as in the
// tutorial (discovery.get("relevance", 1.0)).
const DefaultRelevance = 1.0

// ValidUID accepts the characters of Kubernetes UIDs and similar opaque ids.
// '/' in particular is refused: it would let one session's key prefix cover
// another session.
func ValidUID(uid string) error {
	if uid == "" {
		return invalidf("session uid is empty")
	}
	if len(uid) > maxUIDBytes {
		return invalidf("session uid is %d bytes, longer than %d", len(uid), maxUIDBytes)
	}
	for i := 0; i < len(uid); i++ {
		c := uid[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return invalidf("session uid %q contains %q; only letters, digits, '-', '_' and '.' are allowed", uid, c)
		}
	}
	return nil
}

// ValidKey checks a context key. Keys are stored verbatim (in Pebble keys), so
// NUL and invalid UTF-8 are refused to keep them printable and round-trippable
// through JSON (which would silently replace invalid bytes).
func ValidKey(key string) error {
	switch {
	case key == "":
		return invalidf("context key is empty")
	case len(key) > MaxKeyBytes:
		return invalidf("context key is %d bytes, longer than %d", len(key), MaxKeyBytes)
	case strings.IndexByte(key, 0) >= 0:
		return invalidf("context key %q contains a NUL byte", key)
	case !utf8.ValidString(key):
		return invalidf("context key %q is not valid UTF-8", key)
	}
	return nil
}

func validRole(role string) error {
	if !validRoles[role] {
		return invalidf("role %q is not one of user, assistant, system, tool", role)
	}
	return nil
}

// validText refuses invalid UTF-8 because JSON encoding would silently
// replace it, and a stored message must read back exactly as written.
func validText(field, s string) error {
	if !utf8.ValidString(s) {
		return invalidf("%s is not valid UTF-8", field)
	}
	return nil
}

// normalizeRelevance maps the unset zero value to DefaultRelevance and
// refuses anything outside (0, 1], the tutorial's scale.
func normalizeRelevance(r float64) (float64, error) {
	if r == 0 {
		return DefaultRelevance, nil
	}
	if math.IsNaN(r) || r < 0 || r > 1 {
		return 0, invalidf("relevance %v is outside (0, 1]", r)
	}
	return r, nil
}

// ValidRef checks a session's identity: a valid UID, and namespace, name
// and project of valid UTF-8 within their lengths.
func ValidRef(ref SessionRef) error {
	if err := ValidUID(ref.UID); err != nil {
		return err
	}
	fields := []struct {
		name, value string
		max         int
	}{
		{"namespace", ref.Namespace, maxNameBytes},
		{"name", ref.Name, maxNameBytes},
		{"project", ref.Project, maxProjectBytes},
	}
	for _, f := range fields {
		if len(f.value) > f.max {
			return invalidf("%s is %d bytes, longer than %d", f.name, len(f.value), f.max)
		}
		if err := validText(f.name, f.value); err != nil {
			return err
		}
	}
	return nil
}

// compactJSON validates a JSON value and returns its compact form. Values are
// stored compact so limits count content, not indentation.
func compactJSON(value []byte) (json.RawMessage, error) {
	if !json.Valid(value) {
		return nil, invalidf("value is not valid JSON")
	}
	var buf bytes.Buffer
	buf.Grow(len(value))
	if err := json.Compact(&buf, value); err != nil {
		return nil, invalidf("value is not valid JSON: %v", err)
	}
	return buf.Bytes(), nil
}

// pythonType names the JSON value's type the way the tutorial records it
// (type(value).__name__), so exported documents look like the tutorial's.
func pythonType(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return ""
	}
	switch v[0] {
	case '{':
		return "dict"
	case '[':
		return "list"
	case '"':
		return "str"
	case 't', 'f':
		return "bool"
	case 'n':
		return "NoneType"
	}
	if bytes.ContainsAny(v, ".eE") {
		return "float"
	}
	return "int"
}

// EncodeJSON encodes records as documents are written (document.Marshal:
// no HTML escaping), so stored values read back byte for byte as written
// and limits count the bytes the client sent.
func EncodeJSON(v any) ([]byte, error) { return document.Marshal(v) }
