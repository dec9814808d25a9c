package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a position in a policy file. Line and Col are 1-based; a zero Line
// means the problem concerns the file (or the policy) as a whole.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats p as "file:line:col", the form editors and CI annotations
// understand.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// LoadError is one problem found while loading a policy, at the position of
// the offending YAML node, so `policy lint` can point at it.
type LoadError struct {
	Pos Pos
	Msg string
	// Err is the underlying cause, if any (for example ErrInvalidDate or
	// ErrUnknownJurisdiction), so callers can match it with errors.Is.
	Err error
}

// Error formats the problem as "file:line:col: message".
func (e *LoadError) Error() string { return e.Pos.String() + ": " + e.Msg }

// Unwrap returns the underlying cause.
func (e *LoadError) Unwrap() error { return e.Err }

// ErrorList is every problem found while loading a policy. The loader keeps
// going after the first problem so one run of `policy lint` shows them all.
type ErrorList []*LoadError

// Error prints one problem per line, each as "file:line:col: message".
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap exposes the individual problems to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// sort orders problems by file and position, keeping discovery order for
// problems at the same position, so output is stable and reads top-down.
func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *LoadError) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
		)
	})
}
