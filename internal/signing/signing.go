package signing

import (
	"bytes"
	"crypto/sha256"
	"sync"

	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// A signature never covers kubetrail.io/signature (it cannot sign itself),
// kubetrail.io/break-glass (people add it at the cluster after the fact) or the
// admission annotations (only the webhook writes them, after signing): a statement's
// provenance holds exactly provenance.SignedKeys, and the content digest leaves all
// kubetrail.io/ provenance and admission keys out (internal/digest).

// MaxEncodedSize is the largest kubetrail.io/signature value Verify decodes. Real
// envelopes are about a kilobyte; the cap keeps a hostile annotation from costing the
// webhook memory and CPU.
const MaxEncodedSize = 64 << 10

// maxSignatures bounds the signatures Verify tries, since each one may be checked
// against every trusted key. kubetrail writes one.
const maxSignatures = 8

// Statement is what a signature binds, kubetrail's view of the in-toto statement it
// signs (see statement.go for the layout).
type Statement struct {
	// Group, Kind, Namespace and Name identify the object (the in-toto subject's
	// name, SubjectName). Group is "" for the core group, Namespace "" for a
	// cluster-scoped object.
	Group, Kind, Namespace, Name string
	// Digest is ContentDigest of the object: "sha256:" and 64 hex digits (the
	// subject's sha256 digest). It binds the whole tracked content: spec, roleRef,
	// subjects, rules, data, labels, annotations (a Secret's values excepted, see
	// ContentDigest).
	Digest string
	// Provenance is annotation key -> value, e.g. "kubetrail.io/commit" -> sha. It
	// never holds kubetrail.io/signature or kubetrail.io/break-glass.
	Provenance map[string]string
	// Audience names the cluster the signature is for. Sign requires it; Verify does
	// not compare it (a policy's spec.signing.audience does, with CheckAudience).
	Audience string
	// SignedAt is when it was signed (Sign sets it to now when zero); Expires is when
	// the signature stops being accepted. Verify ignores both in the statement it
	// compares against.
	SignedAt, Expires time.Time
}

// StatementOf builds the statement an object carries: its identity, its content
// digest (ContentDigest; "" when the object has content that is not JSON, which
// then matches no signature) and its kubetrail.io/* provenance annotations except
// the signature and break-glass ones. The pipeline (before signing) and the webhook
// (before verifying) both call it so that they agree on what is signed. Audience,
// SignedAt and Expires are left zero.
func StatementOf(obj map[string]interface{}) Statement {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]interface{})
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	annotations, _ := meta["annotations"].(map[string]interface{})

	prov := map[string]string{}
	for k, v := range annotations {
		s, ok := v.(string)
		if ok && isSigned(k) {
			prov[k] = s
		}
	}
	d, err := ContentDigest(obj)
	if err != nil {
		d = ""
	}
	return Statement{
		Group:      digest.Group(apiVersion),
		Kind:       kind,
		Namespace:  ns,
		Name:       name,
		Digest:     d,
		Provenance: prov,
	}
}

// normalized returns st in the form that is signed and compared: no
// signature/break-glass keys, a non-nil provenance map, UTC times.
func (st Statement) normalized() Statement {
	out := st
	out.Provenance = make(map[string]string, len(st.Provenance))
	for k, v := range st.Provenance {
		if isSigned(k) {
			out.Provenance[k] = v
		}
	}
	out.SignedAt = st.SignedAt.UTC()
	out.Expires = st.Expires.UTC()
	return out
}

func isSigned(key string) bool {
	for _, k := range provenance.SignedKeys {
		if k == key {
			return true
		}
	}
	return false
}

// Sign signs st with key and returns the kubetrail.io/signature annotation value:
// the DSSE envelope JSON (payloadType application/vnd.in-toto+json, an in-toto
// Statement v1) in standard base64. The envelope names the key (KeyID) so the
// webhook knows which trusted key to try. st.SignedAt zero means now.
func Sign(ctx context.Context, st Statement, key ed25519.PrivateKey) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("the signing key is %d bytes, not an ed25519 private key (%d bytes); %s", len(key), ed25519.PrivateKeySize, keygenHint)
	}
	if st.SignedAt.IsZero() {
		st.SignedAt = time.Now()
	}
	switch {
	case st.Kind == "":
		return "", errors.New("statement.kind is empty; set it to the object's kind, e.g. Deployment")
	case st.Name == "":
		return "", errors.New("statement.name is empty; set it to the object's metadata.name")
	case strings.Contains(st.Group+st.Kind+st.Namespace+st.Name, "/"):
		return "", errors.New("statement group, kind, namespace and name must not contain \"/\"")
	case st.Digest == "":
		return "", errors.New("statement.digest is empty; set it to signing.ContentDigest of the object as it will be admitted")
	case strings.TrimSpace(st.Audience) == "":
		return "", errors.New("statement.audience is empty; set it to the name of the cluster the object is for (the TracePolicy's spec.signing.audience), e.g. --audience prod-eu-1")
	case st.Expires.IsZero():
		return "", errors.New("statement.expires is not set; set it to when the signature should stop being accepted, e.g. time.Now().Add(24 * time.Hour)")
	case !st.Expires.After(st.SignedAt):
		return "", fmt.Errorf("statement.expires (%s) is not after statement.signedAt (%s)", st.Expires.UTC().Format(time.RFC3339), st.SignedAt.UTC().Format(time.RFC3339))
	}
	body, err := encodeStatement(st.normalized())
	if err != nil {
		return "", fmt.Errorf("encoding the statement: %w", err)
	}
	signer, err := dsse.NewEnvelopeSigner(newSignerVerifier(key))
	if err != nil {
		return "", fmt.Errorf("creating the DSSE signer: %w", err)
	}
	env, err := signer.SignPayload(ctx, PayloadType, body)
	if err != nil {
		return "", fmt.Errorf("signing the statement: %w", err)
	}
	raw, err := json.Marshal(env)
	if err != nil {
		return "", fmt.Errorf("encoding the DSSE envelope: %w", err)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// Verify checks encoded against the statement the object actually carries (want) and
// the trusted keys at time now. It returns the KeyID of the key that verified. See
// VerifyStatement.
func Verify(ctx context.Context, encoded string, want Statement, trusted []ed25519.PublicKey, now time.Time) (string, error) {
	v, err := VerifyStatement(ctx, encoded, want, trusted, now)
	return v.KeyID, err
}

// Verified is a signature that verified: the key that made it and what it signed.
type Verified struct {
	KeyID     string
	Statement Statement
}

// VerifyStatement checks encoded against the statement the object actually carries
// (want, from StatementOf of the object as admitted) and the trusted keys at time
// now, and returns the key and the signed statement.
//
// The checks run in this order, and the first failure is returned: decoding
// (ErrMalformed; an old-format signature too), signature (ErrUntrustedKey), statement
// match (*MismatchError: subject name, content digest, provenance), then expiry
// (ErrExpired). want's Audience, SignedAt and Expires are ignored: the audience and
// the lifetime are a policy's to judge (CheckAudience, CheckLifetime). A cancelled
// ctx returns ctx.Err().
func VerifyStatement(ctx context.Context, encoded string, want Statement, trusted []ed25519.PublicKey, now time.Time) (Verified, error) {
	if err := ctx.Err(); err != nil {
		return Verified{}, err
	}
	entry, err := verified.lookup(encoded, trusted, func() (verifiedEntry, error) {
		env, payload, signed, err := decode(encoded)
		if err != nil {
			return verifiedEntry{}, err
		}
		keyID, err := verifySignature(ctx, env, payload, trusted)
		return verifiedEntry{keyID: keyID, signed: signed}, err
	})
	if err != nil {
		return Verified{}, err
	}
	if err := match(entry.signed, want.normalized()); err != nil {
		return Verified{}, err
	}
	if now.After(entry.signed.Expires) {
		return Verified{}, expired(entry.signed.Expires)
	}
	return Verified{KeyID: entry.keyID, Statement: entry.signed}, nil
}

// decode turns the annotation into an envelope and the statement in it, rejecting
// anything kubetrail's Sign would not have produced.
func decode(encoded string) (*dsse.Envelope, []byte, Statement, error) {
	var st Statement
	if len(encoded) > MaxEncodedSize {
		return nil, nil, st, malformed("it is %d bytes, over the %d byte limit", len(encoded), MaxEncodedSize)
	}
	if encoded == "" {
		return nil, nil, st, malformed("it is empty")
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, nil, st, malformed("it is not standard base64 (%v)", err)
	}
	if !utf8.Valid(raw) {
		return nil, nil, st, malformed("the decoded envelope is not UTF-8 JSON")
	}
	env, err := decodeEnvelope(raw)
	if err != nil {
		return nil, nil, st, malformed("the decoded value is not a DSSE envelope (%v)", err)
	}
	if env.PayloadType == LegacyPayloadType {
		return nil, nil, st, fmt.Errorf("%w: it is an old-format kubetrail signature (payloadType %q), which does not bind the object's content and is no longer accepted; "+
			"re-sign the object with this version of `kubectl trail stamp --key ... --audience ...`", ErrMalformed, LegacyPayloadType)
	}
	if env.PayloadType != PayloadType {
		return nil, nil, st, malformed("payloadType is %s, want %q", quote(env.PayloadType), PayloadType)
	}
	if len(env.Signatures) == 0 {
		return nil, nil, st, malformed("the envelope has no signatures")
	}
	if len(env.Signatures) > maxSignatures {
		return nil, nil, st, malformed("the envelope has %d signatures, more than the %d kubetrail accepts", len(env.Signatures), maxSignatures)
	}
	// Decode the way dsse does (standard, then URL base64) so that everything the
	// verifier could still fail on is classified here as malformed.
	payload, err := dsseBase64(env.Payload)
	if err != nil {
		return nil, nil, st, malformed("the envelope payload is not base64")
	}
	for i, s := range env.Signatures {
		if _, err := dsseBase64(s.Sig); err != nil {
			return nil, nil, st, malformed("signature #%d is not base64", i+1)
		}
	}
	if !utf8.Valid(payload) {
		return nil, nil, st, malformed("the payload is not UTF-8 JSON")
	}
	if st, err = decodeStatement(payload); err != nil {
		return nil, nil, st, malformed("the payload is not a kubetrail in-toto statement (%v)", err)
	}
	switch {
	case st.Kind == "":
		return nil, nil, st, malformed("the statement has no kind")
	case st.Name == "":
		return nil, nil, st, malformed("the statement has no name")
	case strings.TrimSpace(st.Audience) == "":
		return nil, nil, st, malformed("the statement has no audience")
	case st.SignedAt.IsZero():
		return nil, nil, st, malformed("the statement has no signedAt")
	case st.Expires.IsZero():
		return nil, nil, st, malformed("the statement has no expiry")
	case !st.Expires.After(st.SignedAt):
		return nil, nil, st, malformed("the statement expires before it was signed")
	}
	return &env, payload, st, nil
}

// strictUnmarshal decodes one JSON value into v, refusing unknown fields and trailing
// data: a field the signer meant to bind but this verifier ignores would be a hole.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func dsseBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return base64.URLEncoding.DecodeString(s)
	}
	return b, nil
}

// verifySignature returns the KeyID of the trusted key that signed env.
func verifySignature(ctx context.Context, env *dsse.Envelope, payload []byte, trusted []ed25519.PublicKey) (string, error) {
	// One verifier per distinct well-formed key: dsse counts duplicates of a key as
	// "subkeys" and prints to stdout about them, and a key of the wrong length would
	// make ed25519.Verify panic.
	var verifiers []dsse.Verifier
	seen := map[string]bool{}
	for _, pub := range trusted {
		id := KeyID(pub)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		verifiers = append(verifiers, &signerVerifier{pub: pub, keyID: id})
	}
	if len(verifiers) == 0 {
		return "", untrusted("the webhook has no trusted public keys configured; give it the PUBLIC KEY from `kubectl trail keygen`")
	}
	ev, err := dsse.NewEnvelopeVerifier(verifiers...)
	if err != nil {
		return "", untrusted(fmt.Sprintf("cannot set up the verifier (%v)", err))
	}
	// decode has checked everything else dsse could fail on, so a failure here means
	// no trusted key made any of the signatures.
	accepted, body, err := ev.VerifyAndDecode(ctx, env)
	if err != nil || len(accepted) == 0 {
		ids := make([]string, 0, len(env.Signatures))
		for _, s := range env.Signatures {
			ids = append(ids, s.KeyID)
		}
		return "", untrusted(fmt.Sprintf("it was signed by key %s, which is not among the %d trusted keys; "+
			"add that key's public key to the webhook's trusted keys, or sign with a trusted key", quoteList(ids), len(verifiers)))
	}
	if !bytes.Equal(body, payload) {
		// Cannot happen with the dsse version we vendor; refuse rather than trust a
		// statement that is not the one verified.
		return "", malformed("the verified payload differs from the decoded one")
	}
	return accepted[0].KeyID, nil
}

// match compares the signed statement with the one the object carries, in the order a
// user reads an object (identity, content, provenance), and names the first field
// that differs.
func match(signed, want Statement) error {
	for _, f := range []struct{ field, signed, want string }{
		{"group", signed.Group, want.Group},
		{"kind", signed.Kind, want.Kind},
		{"namespace", signed.Namespace, want.Namespace},
		{"name", signed.Name, want.Name},
	} {
		if f.signed != f.want {
			return &MismatchError{Field: f.field, detail: fmt.Sprintf("%s is %s in the signature but %s on the object", f.field, quote(f.signed), quote(f.want))}
		}
	}
	if want.Digest == "" {
		return &MismatchError{Field: "digest", detail: "the object's content digest cannot be computed (its content is not JSON)"}
	}
	if signed.Digest != want.Digest {
		return &MismatchError{Field: "digest", detail: fmt.Sprintf("the signed content digest is %s but the admitted object's is %s: "+
			"its content (spec, roleRef, subjects, rules, data, labels or annotations) is not what was signed; "+
			"if the apiserver or another mutating webhook set fields the manifest leaves out, sign with `kubectl trail stamp --server-dry-run`", signed.Digest, want.Digest)}
	}
	keys := make([]string, 0, len(signed.Provenance)+len(want.Provenance))
	for k := range signed.Provenance {
		keys = append(keys, k)
	}
	for k := range want.Provenance {
		if _, ok := signed.Provenance[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		sv, inSigned := signed.Provenance[k]
		wv, onObject := want.Provenance[k]
		switch {
		case !onObject:
			return &MismatchError{Field: k, detail: fmt.Sprintf("annotation %s is %s in the signature but missing on the object", quote(k), quote(sv))}
		case !inSigned:
			return &MismatchError{Field: k, detail: fmt.Sprintf("annotation %s is %s on the object but was not signed", quote(k), quote(wv))}
		case sv != wv:
			return &MismatchError{Field: k, detail: fmt.Sprintf("annotation %s is %s in the signature but %s on the object", quote(k), quote(sv), quote(wv))}
		}
	}
	return nil
}

// signerVerifier is dsse's view of one ed25519 key.
type signerVerifier struct {
	priv  ed25519.PrivateKey // nil when only verifying
	pub   ed25519.PublicKey
	keyID string
}

func newSignerVerifier(priv ed25519.PrivateKey) *signerVerifier {
	pub, _ := priv.Public().(ed25519.PublicKey)
	return &signerVerifier{priv: priv, pub: pub, keyID: KeyID(pub)}
}

// Sign signs data (dsse passes the PAE encoding). ed25519 hashes internally.
func (s *signerVerifier) Sign(_ context.Context, data []byte) ([]byte, error) {
	if len(s.priv) != ed25519.PrivateKeySize {
		return nil, errors.New("no ed25519 private key to sign with")
	}
	return ed25519.Sign(s.priv, data), nil
}

// Verify checks sig over data; the length check keeps ed25519.Verify from panicking.
func (s *signerVerifier) Verify(_ context.Context, data, sig []byte) error {
	if len(s.pub) != ed25519.PublicKeySize || !ed25519.Verify(s.pub, data, sig) {
		return errors.New("ed25519 signature does not verify")
	}
	return nil
}

// KeyID is written into envelopes so the verifier tries only the named key.
func (s *signerVerifier) KeyID() (string, error) { return s.keyID, nil }

// Public is the verifying key.
func (s *signerVerifier) Public() crypto.PublicKey { return s.pub }

// verifiedCache remembers envelopes whose signature verified against a set of trusted
// keys. Admission checks every signature twice (the mutating webhook for
// kubetrail.io/verified, the validating one for the policy), and the ed25519 check is
// the expensive part of both. Only successes are kept, so hostile input cannot fill
// it; the statement match and the expiry are checked on every call.
type verifiedCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]verifiedEntry
}

// verifiedEntry is a verified envelope: the key that verified it and the statement it
// carries, so a hit also skips decoding.
type verifiedEntry struct {
	keyID  string
	signed Statement
}

// maxVerifiedEntries bounds the cache; it starts over when full.
const maxVerifiedEntries = 4096

var verified = &verifiedCache{}

var keyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (c *verifiedCache) lookup(encoded string, trusted []ed25519.PublicKey, verify func() (verifiedEntry, error)) (verifiedEntry, error) {
	// The hash of the envelope and the keys, written into a reused buffer: the
	// envelope is a kilobyte or two, copied once per call otherwise.
	buf := keyBuffers.Get().(*[]byte)
	b := append((*buf)[:0], encoded...)
	for _, k := range trusted {
		b = append(b, 0)
		b = append(b, k...)
	}
	key := sha256.Sum256(b)
	if cap(b) <= 2*MaxEncodedSize { // an oversized value is not kept around
		*buf = b
		keyBuffers.Put(buf)
	}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok {
		return e, nil
	}
	e, err := verify()
	if err != nil {
		return verifiedEntry{}, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxVerifiedEntries {
		c.entries = make(map[[sha256.Size]byte]verifiedEntry)
	}
	c.entries[key] = e
	c.mu.Unlock()
	return e, nil
}
