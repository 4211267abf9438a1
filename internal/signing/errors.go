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
	// ErrAudience: the signature was made for another cluster (CheckAudience).
	ErrAudience = errors.New("kubetrail.io/signature was made for another cluster")
	// ErrLifetime: the signature is valid for longer than a policy allows, or claims
	// to be signed in the future (CheckLifetime).
	ErrLifetime = errors.New("kubetrail.io/signature is valid for too long")
)

// CheckAudience returns nil when the signed statement names audience (a policy's
// spec.signing.audience), and an ErrAudience error naming both otherwise.
func CheckAudience(signed Statement, audience string) error {
	if signed.Audience == audience {
		return nil
	}
	return fmt.Errorf("%w: the statement's audience is %s but this cluster is %s (TracePolicy spec.signing.audience); "+
		"a signature made for one cluster is not accepted in another: sign for this cluster with `kubectl trail stamp --audience %s`",
		ErrAudience, quote(signed.Audience), quote(audience), audience)
}

// MaxFutureSkew is how far in the future a statement's signedAt may lie (the
// pipeline's clock may be ahead of the cluster's a little).
const MaxFutureSkew = 5 * time.Minute

// CheckLifetime returns nil when the signed statement's expiry lies at most max
// after its signing time and that signing time is not in the future (beyond
// MaxFutureSkew at now), and an ErrLifetime error saying which otherwise. max <= 0
// allows any lifetime.
func CheckLifetime(signed Statement, max time.Duration, now time.Time) error {
	if signed.SignedAt.After(now.Add(MaxFutureSkew)) {
		return fmt.Errorf("%w: it claims to be signed at %s, later than now (%s): check the pipeline's clock and sign again",
			ErrLifetime, signed.SignedAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if max <= 0 {
		return nil
	}
	if life := signed.Expires.Sub(signed.SignedAt); life > max {
		return fmt.Errorf("%w: it was signed at %s to expire at %s (%s), longer than the %s the TracePolicy allows (spec.signing.maxValidity); "+
			"sign again with `kubectl trail stamp --expires %s` or less",
			ErrLifetime, signed.SignedAt.UTC().Format(time.RFC3339), signed.Expires.UTC().Format(time.RFC3339), life, max, max)
	}
	return nil
}

// MismatchError says the signature is genuine but was made for an object that differs
// from the one being admitted: another object's signature copied over, or a field
// changed after signing.
type MismatchError struct {
	// Field is "group", "kind", "namespace", "name", "digest" (the content), or the
	// provenance annotation key (e.g. "kubetrail.io/commit") that differs.
	Field string
	// detail says how it differs, in words for the message.
	detail string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("kubetrail.io/signature was made for a different object: %s; "+
		"re-sign the object in the pipeline after changing it, and never copy a signature from another object", e.detail)
}

// Detail says how the object differs from what was signed.
func (e *MismatchError) Detail() string {
	return e.detail
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
