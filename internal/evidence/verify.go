package evidence

import (
	"errors"
	"fmt"
)

// ErrNotBundle is returned by Verify for a document that is not an evidence bundle.
var ErrNotBundle = errors.New("not a kubetrail evidence bundle")

// EditedError is returned by Verify when a bundle's content does not hash to the
// digest it carries: it was edited after export (or the digest was).
type EditedError struct {
	// Recorded is the digest the bundle carries.
	Recorded string
	// Computed is the digest of the bundle's content as it is now.
	Computed string
}

func (e *EditedError) Error() string {
	return fmt.Sprintf("the bundle was edited after export: its content hashes to %s, not to the digest it carries (%s)",
		e.Computed, e.Recorded)
}

// Result describes a bundle that verified.
type Result struct {
	// Digest is the bundle's digest.
	Digest string
	// GeneratedAt, Since and Until are the bundle's times as written ("" when absent or null).
	GeneratedAt, Since, Until string
	// Cluster is the API server the bundle was read from.
	Cluster string
	// Records, Findings and Policies count the bundle's entries.
	Records, Findings, Policies int
}

// Verify checks that doc is an evidence bundle whose content hashes to the digest it
// carries. It returns an *EditedError when it does not, and an error wrapping
// ErrNotBundle when doc is not a bundle at all (not JSON, not an object, another
// apiVersion, no digest).
func Verify(doc []byte) (*Result, error) {
	v, err := Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid JSON: %v", ErrNotBundle, err)
	}
	obj, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("%w: the document is not a JSON object", ErrNotBundle)
	}
	if av, _ := obj["apiVersion"].(string); av != APIVersion {
		return nil, fmt.Errorf("%w: apiVersion is %q, want %q", ErrNotBundle, av, APIVersion)
	}
	recorded, ok := obj[digestKey].(string)
	if !ok || recorded == "" {
		return nil, fmt.Errorf("%w: it has no digest (it was removed, or the file was not written by kubectl trail export)", ErrNotBundle)
	}
	computed, err := digestOfValue(obj)
	if err != nil {
		return nil, err
	}
	if recorded != computed {
		return nil, &EditedError{Recorded: recorded, Computed: computed}
	}
	str := func(k string) string { s, _ := obj[k].(string); return s }
	count := func(k string) int { l, _ := obj[k].([]interface{}); return len(l) }
	return &Result{
		Digest:      computed,
		GeneratedAt: str("generatedAt"),
		Since:       str("since"),
		Until:       str("until"),
		Cluster:     str("cluster"),
		Records:     count("records"),
		Findings:    count("findings"),
		Policies:    count("policies"),
	}, nil
}
