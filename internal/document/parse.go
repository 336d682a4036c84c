package document

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Parse decodes one document, refusing anything that is not a single JSON
// object. Errors are *Error (errors.Is(err, ErrInvalid)).
func Parse(data []byte) (*Document, error) {
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return nil, &Error{Reason: "not a JSON object with id, created_at, project, context, discoveries and conversation_history"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var d Document
	if err := dec.Decode(&d); err != nil {
		return nil, &Error{Reason: err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &Error{Reason: "unexpected data after the JSON object"}
	}
	return &d, nil
}

// Decode reads one document from r (see Parse); the whole document is held
// in memory, as an import needs it whole anyway. An error reading r is
// returned wrapped, not as an *Error.
func Decode(r io.Reader) (*Document, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read session document: %w", err)
	}
	return Parse(data)
}
