package signing

import (
	"crypto/sha256"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"sync"

	"bytes"
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

	"github.com/kubetrail/kubetrail/internal/workload"
)

// PayloadType is the DSSE payload type of a kubetrail statement. It is signed along
// with the payload, so a DSSE signature made for another purpose (an in-toto
// attestation, say) cannot be passed off as a kubetrail one.
const PayloadType = "application/vnd.kubetrail.provenance.v1+json"

// A signature never covers kubetrail.io/signature (it cannot sign itself),
// kubetrail.io/break-glass (people add it at the cluster after the fact) or the
// admission annotations (only the webhook writes them, after signing): a statement
// holds exactly provenance.SignedKeys.

// MaxEncodedSize is the largest kubetrail.io/signature value Verify decodes. Real
// envelopes are about a kilobyte; the cap keeps a hostile annotation from costing the
// webhook memory and CPU.
const MaxEncodedSize = 64 << 10

// maxSignatures bounds the signatures Verify tries, since each one may be checked
// against every trusted key. kubetrail writes one.
const maxSignatures = 8

// Statement is what a signature binds.
type Statement struct {
	Group     string `json:"group"` // API group of the object, "" for core
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Provenance is annotation key -> value, e.g. "kubetrail.io/commit" -> sha. It
	// never holds kubetrail.io/signature or kubetrail.io/break-glass.
	Provenance map[string]string `json:"provenance"`
	// Images are the container images, sorted.
	Images []string `json:"images,omitempty"`
	// Expires is when the signature stops being accepted. Verify ignores it in the
	// statement it compares against.
	Expires time.Time `json:"expires"`
}

// StatementOf builds the statement an object carries: its identity, its
// kubetrail.io/* annotations except the signature and break-glass ones, and its
// container images. The pipeline (before signing) and the webhook (before verifying)
// both call it so that they agree on what is signed. Expires is left zero.
func StatementOf(obj map[string]interface{}) Statement {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]interface{})
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	annotations, _ := meta["annotations"].(map[string]interface{})

	group := ""
	if i := strings.LastIndex(apiVersion, "/"); i >= 0 {
		group = apiVersion[:i]
	}
	prov := map[string]string{}
	for k, v := range annotations {
		s, ok := v.(string)
		if ok && isSigned(k) {
			prov[k] = s
		}
	}
	return Statement{
		Group:      group,
		Kind:       kind,
		Namespace:  ns,
		Name:       name,
		Provenance: prov,
		Images:     workload.Images(obj),
	}
}

// normalized returns st in the form that is signed and compared: images sorted and
// de-duplicated, no signature/break-glass keys, a non-nil provenance map, UTC expiry.
func (st Statement) normalized() Statement {
	out := st
	out.Images = sortedSet(st.Images)
	out.Provenance = make(map[string]string, len(st.Provenance))
	for k, v := range st.Provenance {
		if isSigned(k) {
			out.Provenance[k] = v
		}
	}
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

func sortedSet(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}

// Sign signs st with key and returns the kubetrail.io/signature annotation value:
// the DSSE envelope JSON in standard base64. The envelope names the key (KeyID) so
// the webhook knows which trusted key to try.
func Sign(ctx context.Context, st Statement, key ed25519.PrivateKey) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("the signing key is %d bytes, not an ed25519 private key (%d bytes); %s", len(key), ed25519.PrivateKeySize, keygenHint)
	}
	switch {
	case st.Kind == "":
		return "", errors.New("statement.kind is empty; set it to the object's kind, e.g. Deployment")
	case st.Name == "":
		return "", errors.New("statement.name is empty; set it to the object's metadata.name")
	case st.Expires.IsZero():
		return "", errors.New("statement.expires is not set; set it to when the signature should stop being accepted, e.g. time.Now().Add(30 * 24 * time.Hour)")
	}
	body, err := json.Marshal(st.normalized())
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
// the trusted keys at time now. It returns the KeyID of the key that verified.
//
// The checks run in this order, and the first failure is returned: decoding
// (ErrMalformed), signature (ErrUntrustedKey), statement match (*MismatchError), then
// expiry (ErrExpired). want.Expires is ignored. A cancelled ctx returns ctx.Err().
func Verify(ctx context.Context, encoded string, want Statement, trusted []ed25519.PublicKey, now time.Time) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
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
		return "", err
	}
	if err := match(entry.signed, want.normalized()); err != nil {
		return "", err
	}
	if now.After(entry.signed.Expires) {
		return "", expired(entry.signed.Expires)
	}
	return entry.keyID, nil
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
		return nil, nil, st, malformed("the payload is not a kubetrail statement (%v)", err)
	}
	switch {
	case st.Kind == "":
		return nil, nil, st, malformed("the statement has no kind")
	case st.Name == "":
		return nil, nil, st, malformed("the statement has no name")
	case st.Expires.IsZero():
		return nil, nil, st, malformed("the statement has no expiry")
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

// match compares the signed statement with the one the object carries, field by field
// in the order a user reads an object, and names the first field that differs.
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
	// Both are sorted sets (normalized), so element-wise comparison is set equality.
	images := sortedSet(signed.Images)
	if !slices.Equal(images, want.Images) {
		return &MismatchError{Field: "images", detail: fmt.Sprintf("images are %s in the signature but %s on the object", quoteList(images), quoteList(want.Images))}
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
