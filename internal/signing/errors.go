package signing

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The classes of Verify failure. Callers tell them apart with errors.Is, because the
// webhook treats them differently (a malformed or untrusted signature is an attack or
// a broken pipeline; an expired one just needs the pipeline to run again).
var (
	// ErrMalformed: the annotation is not a kubetrail signature at all.
	ErrMalformed = errors.New("kubetrail.io/signature is malformed")
	// ErrUntrustedKey: none of the trusted keys made the signature.
	ErrUntrustedKey = errors.New("kubetrail.io/signature is not signed by a trusted key")
	// ErrExpired: the signature was valid but is past its expiry time.
	ErrExpired = errors.New("kubetrail.io/signature has expired")
)

// MismatchError says the signature is genuine but was made for an object that differs
// from the one being admitted: another object's signature copied over, or a field
// changed after signing.
type MismatchError struct {
	// Field is "group", "kind", "namespace", "name", "images", or the provenance
	// annotation key (e.g. "kubetrail.io/commit") that differs.
	Field string
	// detail says how it differs, in words for the message.
	detail string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("kubetrail.io/signature was made for a different object: %s; "+
		"re-sign the object in the pipeline after changing it, and never copy a signature from another object", e.detail)
}

// malformed wraps ErrMalformed with what exactly is wrong.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s; re-sign the object in the pipeline", ErrMalformed, fmt.Sprintf(format, args...))
}

func untrusted(detail string) error {
	return fmt.Errorf("%w: %s", ErrUntrustedKey, detail)
}

func expired(at time.Time) error {
	return fmt.Errorf("%w at %s; run the pipeline again to re-sign the object", ErrExpired, at.UTC().Format(time.RFC3339))
}

// maxQuoted bounds how much of an attacker-supplied string lands in an error message
// (admission responses and events should stay readable).
const maxQuoted = 80

// quote quotes s for a message, cut to maxQuoted bytes.
func quote(s string) string {
	if len(s) > maxQuoted {
		return fmt.Sprintf("%q...", s[:maxQuoted])
	}
	return fmt.Sprintf("%q", s)
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
