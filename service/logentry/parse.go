package logentry

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/go-json-experiment/json"
)

// Errors Parse wraps, so callers can tell a broken entry from a
// non-canonical one without matching messages.
var (
	// ErrMalformed: not JSON, the wrong shape, an unknown or duplicate
	// member.
	ErrMalformed = errors.New("malformed entry")
	// ErrNotCanonical: valid JSON for the schema, but not the one encoding
	// Marshal produces (member order, whitespace, escaping, number form, an
	// explicit null...). Two encodings of one entry would hash differently,
	// so the log admits only the canonical one.
	ErrNotCanonical = errors.New("entry not canonical")
)

// parseOptions rejects members the schema does not define. Duplicate names
// are rejected by default by the v2 decoder (RFC 7493 I-JSON).
var parseOptions = json.JoinOptions(json.RejectUnknownMembers(true))

// Parse decodes an entry strictly: unknown or duplicate members are
// rejected ([ErrMalformed]), and b must be exactly the canonical encoding
// of what it decodes to ([ErrNotCanonical]). Parse does not check field
// values; call [Entry.Validate] for that.
func Parse(b []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e, parseOptions); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	c, err := e.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(c, b) {
		return nil, ErrNotCanonical
	}
	return &e, nil
}
