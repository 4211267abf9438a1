package signing

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/kubetrail/kubetrail/internal/digest"
)

// PayloadType is the DSSE payload type of a kubetrail signature: an in-toto
// Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md),
// so that standard in-toto tooling can read the envelope. It is signed with the
// payload (PAE), and the predicate type below says what the statement is about, so a
// DSSE signature or an in-toto attestation made for another purpose is not taken
// for a kubetrail one.
const PayloadType = "application/vnd.in-toto+json"

// PredicateType is the in-toto predicate type of a kubetrail statement.
const PredicateType = "https://kubetrail.io/provenance/v1"

// LegacyPayloadType is the payload type of the signatures kubetrail wrote before
// they bound content (v1alpha1). They are rejected with a message telling to re-sign.
const LegacyPayloadType = "application/vnd.kubetrail.provenance.v1+json"

// The layout of the in-toto statement kubetrail signs:
//
//	{
//	  "_type": "https://in-toto.io/Statement/v1",
//	  "subject": [{
//	    "name": "<group>/<kind>/<namespace>/<name>",   // SubjectName
//	    "digest": {"sha256": "<64 hex digits>"}        // ContentDigest, without "sha256:"
//	  }],
//	  "predicateType": "https://kubetrail.io/provenance/v1",
//	  "predicate": {
//	    "audience": "<cluster name>",
//	    "signedAt": "<RFC 3339>",
//	    "expires": "<RFC 3339>",
//	    "provenance": {"kubetrail.io/commit": "...", ...}
//	  }
//	}

// predicate is the kubetrail predicate of the in-toto statement.
type predicate struct {
	// Audience names the cluster the signature is for (a TracePolicy's
	// spec.signing.audience must equal it).
	Audience string `json:"audience"`
	// SignedAt is when the statement was signed.
	SignedAt time.Time `json:"signedAt"`
	// Expires is when the signature stops being accepted.
	Expires time.Time `json:"expires"`
	// Provenance is annotation key -> value of provenance.SignedKeys.
	Provenance map[string]string `json:"provenance"`
}

// SubjectName is the in-toto subject name of an object:
// "<group>/<kind>/<namespace>/<name>", the group "" for the core API group and the
// namespace "" for a cluster-scoped object (no part of it can hold a "/"), e.g.
// "apps/Deployment/shop/web", "/ConfigMap/shop/settings",
// "rbac.authorization.k8s.io/ClusterRoleBinding//admins".
func SubjectName(group, kind, namespace, name string) string {
	return group + "/" + kind + "/" + namespace + "/" + name
}

// secretKeyNamesField replaces a Secret's data and stringData in what ContentDigest
// hashes. No Secret field has this name (nor can have: it is not a JSON field name a
// Kubernetes type uses), so it cannot collide with content.
const secretKeyNamesField = "kubetrail.io/secretKeyNames"

// ContentDigest is the digest a signature's subject binds: digest.Of(obj, nil), the
// very digest the mutating webhook stamps as kubetrail.io/digest (the object's
// tracked content: everything but status, server-written metadata, kubetrail's own
// annotations and a few server-allocated fields; see internal/digest), so the signed
// and the stamped digest of an admitted object can be compared by eye.
//
// One exception: a Secret's values. The manager hashes them with a key only it holds
// (digest.SetSecretKey), which a pipeline never has, so a signature binds a Secret's
// data and stringData key NAMES only, never their values: for kind Secret, data and
// stringData are replaced by the sorted list of their key names before hashing. A
// Secret without data or stringData digests exactly as kubetrail.io/digest.
func ContentDigest(obj map[string]interface{}) (string, error) {
	if kind, _ := obj["kind"].(string); kind == "Secret" {
		obj = secretKeyNames(obj)
	}
	return digest.Of(obj, nil)
}

// secretKeyNames returns a shallow copy of a Secret whose data and stringData are
// replaced by the sorted, de-duplicated list of their key names.
func secretKeyNames(obj map[string]interface{}) map[string]interface{} {
	data, hasData := obj["data"]
	stringData, hasStringData := obj["stringData"]
	if !hasData && !hasStringData {
		return obj
	}
	out := maps.Clone(obj)
	delete(out, "data")
	delete(out, "stringData")
	seen := map[string]bool{}
	names := []interface{}{}
	var sorted []string
	for _, v := range []interface{}{data, stringData} {
		m, _ := v.(map[string]interface{})
		for k := range m {
			if !seen[k] {
				seen[k] = true
				sorted = append(sorted, k)
			}
		}
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		names = append(names, k)
	}
	out[secretKeyNamesField] = names
	return out
}

// encodeStatement writes st as the JSON of an in-toto Statement v1.
func encodeStatement(st Statement) ([]byte, error) {
	hexDigest, ok := strings.CutPrefix(st.Digest, digest.Prefix)
	if !ok || !digest.Valid(st.Digest) {
		return nil, fmt.Errorf("statement.digest is %s, want %q followed by 64 hex digits (signing.ContentDigest of the object)", quote(st.Digest), digest.Prefix)
	}
	predJSON, err := json.Marshal(predicate{
		Audience: st.Audience, SignedAt: st.SignedAt, Expires: st.Expires, Provenance: st.Provenance,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the predicate: %w", err)
	}
	pred := &structpb.Struct{}
	if err := protojson.Unmarshal(predJSON, pred); err != nil {
		return nil, fmt.Errorf("encoding the predicate: %w", err)
	}
	s := &intoto.Statement{
		Type: intoto.StatementTypeUri,
		Subject: []*intoto.ResourceDescriptor{{
			Name:   SubjectName(st.Group, st.Kind, st.Namespace, st.Name),
			Digest: map[string]string{"sha256": hexDigest},
		}},
		PredicateType: PredicateType,
		Predicate:     pred,
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("the in-toto statement is invalid: %w", err)
	}
	raw, err := protojson.Marshal(s)
	if err != nil {
		return nil, err
	}
	// protojson varies its whitespace from build to build on purpose; compacted, its
	// output (fields in a fixed order, map keys sorted) is the same everywhere.
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// maxSubjectParts is the number of "/"-separated parts of a SubjectName.
const maxSubjectParts = 4

// decodeStatement reads a kubetrail in-toto statement strictly: an in-toto Statement
// v1 (not v0.1) with exactly one subject whose digest is exactly one sha256, the
// kubetrail predicate type and a predicate with exactly the kubetrail fields. Unknown
// fields anywhere are refused: a field the signer meant to bind but this verifier
// ignores would be a hole.
func decodeStatement(raw []byte) (Statement, error) {
	var st Statement
	var s intoto.Statement
	if err := protojson.Unmarshal(raw, &s); err != nil {
		return st, fmt.Errorf("not an in-toto statement: %v", err)
	}
	if s.GetType() != intoto.StatementTypeUri {
		return st, fmt.Errorf("_type is %s, want %q", quote(s.GetType()), intoto.StatementTypeUri)
	}
	if err := s.Validate(); err != nil {
		return st, fmt.Errorf("invalid in-toto statement: %v", err)
	}
	if s.GetPredicateType() != PredicateType {
		return st, fmt.Errorf("predicateType is %s, want %q", quote(s.GetPredicateType()), PredicateType)
	}
	if n := len(s.GetSubject()); n != 1 {
		return st, fmt.Errorf("it has %d subjects, want exactly 1 (the object)", n)
	}
	sub := s.GetSubject()[0]
	if sub.GetUri() != "" || len(sub.GetContent()) != 0 || sub.GetDownloadLocation() != "" ||
		sub.GetMediaType() != "" || len(sub.GetAnnotations().GetFields()) != 0 {
		return st, errors.New("the subject has fields other than name and digest")
	}
	parts := strings.Split(sub.GetName(), "/")
	if len(parts) != maxSubjectParts {
		return st, fmt.Errorf("subject name %s is not <group>/<kind>/<namespace>/<name>", quote(sub.GetName()))
	}
	st.Group, st.Kind, st.Namespace, st.Name = parts[0], parts[1], parts[2], parts[3]
	if len(sub.GetDigest()) != 1 {
		return st, fmt.Errorf("the subject has %d digests, want exactly one, sha256", len(sub.GetDigest()))
	}
	h, ok := sub.GetDigest()["sha256"]
	if b, err := hex.DecodeString(h); !ok || err != nil || len(b) != 32 || strings.ToLower(h) != h {
		return st, errors.New("the subject digest is not {\"sha256\": <64 lowercase hex digits>}")
	}
	st.Digest = digest.Prefix + h
	predJSON, err := protojson.Marshal(s.GetPredicate())
	if err != nil {
		return st, fmt.Errorf("predicate: %v", err)
	}
	var p predicate
	if err := strictUnmarshal(predJSON, &p); err != nil {
		return st, fmt.Errorf("predicate is not a kubetrail predicate: %v", err)
	}
	st.Audience, st.SignedAt, st.Expires, st.Provenance = p.Audience, p.SignedAt, p.Expires, p.Provenance
	if st.Provenance == nil {
		st.Provenance = map[string]string{}
	}
	return st, nil
}
