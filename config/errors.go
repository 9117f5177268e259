package config

import (
	"fmt"
	"sort"
	"strings"
)

// ErrorType classifies a configuration error, after kops' field.ErrorType.
type ErrorType string

// The error types a validation can raise.
const (
	ErrRequired     ErrorType = "Required value"
	ErrInvalid      ErrorType = "Invalid value"
	ErrNotSupported ErrorType = "Unsupported value"
	ErrDuplicate    ErrorType = "Duplicate value"
	ErrTooLong      ErrorType = "Too long"
	ErrForbidden    ErrorType = "Forbidden"
)

// FieldError is one problem with one configuration key. Path is the key as the
// user writes it in `pulumi config set --path`, e.g. workerPools[1].maxSize.
type FieldError struct {
	Type   ErrorType
	Path   string
	Value  any
	Detail string
}

func (e FieldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Path, e.Type)
	if e.Value != nil {
		fmt.Fprintf(&b, ": %v", quoteValue(e.Value))
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	return b.String()
}

func quoteValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case []string:
		return fmt.Sprintf("%q", x)
	default:
		return fmt.Sprintf("%v", x)
	}
}

// ErrorList collects every configuration error so users fix them in one pass.
type ErrorList []FieldError

// Required adds a missing-value error.
func (l *ErrorList) Required(path, detail string) {
	*l = append(*l, FieldError{Type: ErrRequired, Path: path, Detail: detail})
}

// Invalid adds an invalid-value error.
func (l *ErrorList) Invalid(path string, value any, detail string) {
	*l = append(*l, FieldError{Type: ErrInvalid, Path: path, Value: value, Detail: detail})
}

// NotSupported adds an error listing the allowed values.
func (l *ErrorList) NotSupported(path string, value any, allowed []string) {
	*l = append(*l, FieldError{Type: ErrNotSupported, Path: path, Value: value,
		Detail: "allowed values: " + strings.Join(quoteAll(allowed), ", ")})
}

// Duplicate adds a duplicate-value error for a list element, naming the
// element it repeats (first, e.g. adminCidrs[0]).
func (l *ErrorList) Duplicate(path string, value any, first string) {
	*l = append(*l, FieldError{Type: ErrDuplicate, Path: path, Value: value, Detail: "same as " + first})
}

// TooLong adds a length error.
func (l *ErrorList) TooLong(path string, value any, detail string) {
	*l = append(*l, FieldError{Type: ErrTooLong, Path: path, Value: value, Detail: detail})
}

// Forbidden adds an error for a value that is well-formed but not allowed here.
func (l *ErrorList) Forbidden(path, detail string) {
	*l = append(*l, FieldError{Type: ErrForbidden, Path: path, Detail: detail})
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// Err returns nil for an empty list, otherwise an error that prints every entry.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return &ValidationError{Errors: l}
}

// ValidationError is returned by Load when the stack configuration is invalid.
type ValidationError struct {
	Errors ErrorList
}

func (e *ValidationError) Error() string {
	lines := e.Errors.Strings()
	for i := range lines {
		lines[i] = "  - " + lines[i]
	}
	return fmt.Sprintf("invalid stack configuration (%d error(s)); fix them with `pulumi config set --path <key> <value>`:\n%s",
		len(e.Errors), strings.Join(lines, "\n"))
}

// Strings returns every error's text, sorted by key path.
func (l ErrorList) Strings() []string {
	out := make([]string, len(l))
	for i, fe := range l {
		out[i] = fe.Error()
	}
	sort.Strings(out)
	return out
}

// Warnings are printed but never stop a deployment.
type Warnings []string

// Add appends a formatted warning.
func (w *Warnings) Add(path, format string, args ...any) {
	*w = append(*w, path+": "+fmt.Sprintf(format, args...))
}

// Has reports whether any error concerns key or a key below it
// (key.x, key[0]).
func (l ErrorList) Has(key string) bool {
	for _, e := range l {
		if e.Path == key || strings.HasPrefix(e.Path, key+".") || strings.HasPrefix(e.Path, key+"[") {
			return true
		}
	}
	return false
}
