package signing

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// testKey derives a fixed key so signatures (ed25519 is deterministic) and seeds are
// reproducible.
func testKey(b byte) (ed25519.PrivateKey, ed25519.PublicKey) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return priv, priv.Public().(ed25519.PublicKey)
}

var testNow = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func testStatement() Statement {
	return Statement{
		Group:     "apps",
		Kind:      "Deployment",
		Namespace: "shop",
		Name:      "web",
		Provenance: map[string]string{
			"kubetrail.io/commit":     "0f3c2a9d5e7b41c8a6f0e2d4b9c1a3e5f7d9b2c4",
			"kubetrail.io/repository": "https://github.com/acme/shop",
		},
		Digest:   testDigest,
		Audience: "prod-eu-1",
		SignedAt: testNow.Add(-time.Minute),
		Expires:  testNow.Add(time.Hour),
	}
}

const testDigest = "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"

func mustSign(t testing.TB, st Statement, key ed25519.PrivateKey) string {
	t.Helper()
	enc, err := Sign(context.Background(), st, key)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return enc
}

// with returns a copy of st changed by fn, leaving the shared maps untouched.
func with(st Statement, fn func(*Statement)) Statement {
	prov := map[string]string{}
	for k, v := range st.Provenance {
		prov[k] = v
	}
	st.Provenance = prov
	fn(&st)
	return st
}

func TestVerify(t *testing.T) {
	priv, pub := testKey(1)
	otherPriv, otherPub := testKey(2)
	signed := mustSign(t, testStatement(), priv)

	cases := map[string]struct {
		encoded   string
		want      Statement
		trusted   []ed25519.PublicKey
		now       time.Time
		wantErr   error  // sentinel, or nil
		wantField string // MismatchError.Field, or ""
		wantInMsg string
	}{
		"round trip": {
			encoded: signed, want: testStatement(), trusted: []ed25519.PublicKey{pub}, now: testNow,
		},
		"audience and times of the wanted statement are not compared": {
			encoded: signed,
			want: with(testStatement(), func(s *Statement) {
				s.Audience, s.SignedAt, s.Expires = "", time.Time{}, time.Time{}
			}),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
		},
		"the object's own signature and break-glass annotations are not compared": {
			encoded: signed,
			want: with(testStatement(), func(s *Statement) {
				s.Provenance[provenance.SignatureKey] = signed
				s.Provenance[provenance.BreakGlassKey] = "incident-42"
			}),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
		},
		"any trusted key may verify": {
			encoded: signed, want: testStatement(), trusted: []ed25519.PublicKey{otherPub, pub, pub}, now: testNow,
		},
		"signed by an untrusted key": {
			encoded: mustSign(t, testStatement(), otherPriv), want: testStatement(), trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantErr: ErrUntrustedKey, wantInMsg: KeyID(otherPub),
		},
		"no trusted keys configured": {
			encoded: signed, want: testStatement(), trusted: nil, now: testNow,
			wantErr: ErrUntrustedKey, wantInMsg: "no trusted public keys",
		},
		"trusted key of the wrong length is ignored, not a panic": {
			encoded: signed, want: testStatement(), trusted: []ed25519.PublicKey{pub[:10]}, now: testNow,
			wantErr: ErrUntrustedKey,
		},
		"payload edited after signing": {
			encoded: editPayload(t, signed, func(st map[string]any) {
				st["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{"sha256": strings.Repeat("f", 64)}
			}),
			want:    with(testStatement(), func(s *Statement) { s.Digest = "sha256:" + strings.Repeat("f", 64) }),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantErr: ErrUntrustedKey,
		},
		"tampered commit on the object": {
			encoded: signed,
			want:    with(testStatement(), func(s *Statement) { s.Provenance["kubetrail.io/commit"] = "deadbeef" }),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantField: "kubetrail.io/commit", wantInMsg: `"deadbeef" on the object`,
		},
		"provenance annotation removed from the object": {
			encoded: signed,
			want:    with(testStatement(), func(s *Statement) { delete(s.Provenance, "kubetrail.io/repository") }),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantField: "kubetrail.io/repository", wantInMsg: "missing on the object",
		},
		"provenance annotation added to the object": {
			encoded: signed,
			want:    with(testStatement(), func(s *Statement) { s.Provenance["kubetrail.io/pipeline-run"] = "manual" }),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantField: "kubetrail.io/pipeline-run", wantInMsg: "not signed",
		},
		"copied to another object": {
			encoded: signed, want: with(testStatement(), func(s *Statement) { s.Name = "api" }),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantField: "name", wantInMsg: `name is "web" in the signature but "api" on the object`,
		},
		"copied to another namespace": {
			encoded: signed, want: with(testStatement(), func(s *Statement) { s.Namespace = "prod" }),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantField: "namespace",
		},
		"copied to another kind": {
			encoded: signed, want: with(testStatement(), func(s *Statement) { s.Kind = "StatefulSet" }),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantField: "kind",
		},
		"copied to another API group": {
			encoded: signed, want: with(testStatement(), func(s *Statement) { s.Group = "" }),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantField: "group",
		},
		"content changed after signing (roleRef, command, image...)": {
			encoded: signed, want: with(testStatement(), func(s *Statement) { s.Digest = "sha256:" + strings.Repeat("e", 64) }),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantField: "digest", wantInMsg: "signed content digest is " + testDigest + " but the admitted object's is sha256:eeee",
		},
		"object whose digest cannot be computed": {
			encoded: signed, want: with(testStatement(), func(s *Statement) { s.Digest = "" }),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantField: "digest", wantInMsg: "cannot be computed",
		},
		"expired": {
			encoded: signed, want: testStatement(), trusted: []ed25519.PublicKey{pub}, now: testNow.Add(2 * time.Hour),
			wantErr: ErrExpired, wantInMsg: "2030-01-01T13:00:00Z",
		},
		"valid at the expiry instant": {
			encoded: signed, want: testStatement(), trusted: []ed25519.PublicKey{pub}, now: testNow.Add(time.Hour),
		},
		"signature is checked before the statement": {
			encoded: mustSign(t, testStatement(), otherPriv), want: with(testStatement(), func(s *Statement) { s.Name = "api" }),
			trusted: []ed25519.PublicKey{pub}, now: testNow,
			wantErr: ErrUntrustedKey,
		},
		"statement is checked before expiry": {
			encoded: signed, want: with(testStatement(), func(s *Statement) { s.Name = "api" }),
			trusted: []ed25519.PublicKey{pub}, now: testNow.Add(48 * time.Hour),
			wantField: "name",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			keyID, err := Verify(context.Background(), tc.encoded, tc.want, tc.trusted, tc.now)
			var mm *MismatchError
			switch {
			case tc.wantErr == nil && tc.wantField == "":
				if err != nil {
					t.Fatalf("Verify() error = %v, want success", err)
				}
				if keyID != KeyID(pub) {
					t.Errorf("Verify() key = %q, want %q", keyID, KeyID(pub))
				}
			case tc.wantField != "":
				if !errors.As(err, &mm) {
					t.Fatalf("Verify() error = %v, want a *MismatchError", err)
				}
				if mm.Field != tc.wantField {
					t.Errorf("MismatchError.Field = %q, want %q (error: %v)", mm.Field, tc.wantField, err)
				}
			default:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Verify() error = %v, want %v", err, tc.wantErr)
				}
				if errors.As(err, &mm) {
					t.Errorf("Verify() error %v is also a MismatchError", err)
				}
			}
			if err != nil && keyID != "" {
				t.Errorf("Verify() returned key %q along with error %v", keyID, err)
			}
			if tc.wantInMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.wantInMsg)) {
				t.Errorf("Verify() error = %v, want it to mention %q", err, tc.wantInMsg)
			}
		})
	}
}

// editPayload rewrites the statement inside an envelope and keeps the old signature,
// as someone editing the annotation by hand would.
func editPayload(t *testing.T, encoded string, fn func(map[string]any)) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatal(err)
	}
	var env dsse.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	body, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	fn(st)
	if body, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	env.Payload = base64.StdEncoding.EncodeToString(body)
	return encodeEnvelope(t, env)
}

func encodeEnvelope(t testing.TB, env any) string {
	t.Helper()
	raw, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// signRaw makes a correctly signed envelope around any payload, to show that a valid
// signature does not make a wrong payload acceptable.
func signRaw(t testing.TB, key ed25519.PrivateKey, payloadType string, payload []byte) dsse.Envelope {
	t.Helper()
	s, err := dsse.NewEnvelopeSigner(newSignerVerifier(key))
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.SignPayload(context.Background(), payloadType, payload)
	if err != nil {
		t.Fatal(err)
	}
	return *env
}

func TestVerifyMalformed(t *testing.T) {
	priv, pub := testKey(1)
	goodPayload, err := encodeStatement(testStatement())
	if err != nil {
		t.Fatal(err)
	}
	// intoto builds a statement's JSON from parts, for the cases Sign refuses to make.
	intoto := func(typ, subjects, predType, pred string) []byte {
		return []byte(`{"_type":"` + typ + `","subject":` + subjects + `,"predicateType":"` + predType + `","predicate":` + pred + `}`)
	}
	const (
		v1        = "https://in-toto.io/Statement/v1"
		subject   = `[{"name":"apps/Deployment/shop/web","digest":{"sha256":"0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"}}]`
		goodPred  = `{"audience":"prod-eu-1","signedAt":"2030-01-01T11:59:00Z","expires":"2030-01-01T13:00:00Z","provenance":{}}`
		kubetrail = PredicateType
	)
	signedStatement := func(raw []byte) string { return encodeEnvelope(t, signRaw(t, priv, PayloadType, raw)) }
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	cases := map[string]struct {
		encoded   string
		wantInMsg string
	}{
		"empty":              {encoded: "", wantInMsg: "empty"},
		"not base64":         {encoded: "this is not base64!", wantInMsg: "not standard base64"},
		"invalid UTF-8":      {encoded: "\xff\xfe\xfd\xfc", wantInMsg: "base64"},
		"base64 of junk":     {encoded: b64("junk"), wantInMsg: "not a DSSE envelope"},
		"base64 of binary":   {encoded: b64("\x00\x01\xff\xfe"), wantInMsg: "UTF-8"},
		"base64 of null":     {encoded: b64("null"), wantInMsg: "payloadType"},
		"base64 of an array": {encoded: b64("[1,2]"), wantInMsg: "not a DSSE envelope"},
		"unknown envelope field": {
			encoded: b64(`{"payloadType":"` + PayloadType + `","payload":"","signatures":[],"extra":1}`), wantInMsg: "not a DSSE envelope",
		},
		"trailing data after the envelope": {
			encoded:   b64(mustJSON(t, signRaw(t, priv, PayloadType, goodPayload)) + "{}"),
			wantInMsg: "trailing data",
		},
		"huge input is rejected before decoding": {
			encoded: strings.Repeat("A", MaxEncodedSize+4), wantInMsg: "byte limit",
		},
		"signed envelope with the wrong payloadType": {
			encoded:   encodeEnvelope(t, signRaw(t, priv, "text/plain", goodPayload)),
			wantInMsg: `payloadType is "text/plain"`,
		},
		"old-format kubetrail signature (no content bound)": {
			encoded: encodeEnvelope(t, signRaw(t, priv, LegacyPayloadType,
				[]byte(`{"group":"apps","kind":"Deployment","namespace":"shop","name":"web","provenance":{},"expires":"2031-01-01T00:00:00Z"}`))),
			wantInMsg: "old-format kubetrail signature",
		},
		"in-toto v0.1 statement":      {encoded: signedStatement(intoto("https://in-toto.io/Statement/v0.1", subject, kubetrail, goodPred)), wantInMsg: "_type"},
		"another predicate type":      {encoded: signedStatement(intoto(v1, subject, "https://slsa.dev/provenance/v1", goodPred)), wantInMsg: "predicateType"},
		"two subjects":                {encoded: signedStatement(intoto(v1, strings.Replace(subject, "]", ","+subject[1:], 1), kubetrail, goodPred)), wantInMsg: "2 subjects"},
		"subject name not 4 parts":    {encoded: signedStatement(intoto(v1, strings.Replace(subject, "shop/web", "web", 1), kubetrail, goodPred)), wantInMsg: "<group>/<kind>/<namespace>/<name>"},
		"subject digest not sha256":   {encoded: signedStatement(intoto(v1, strings.Replace(subject, `"sha256":"0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"`, `"sha512":"`+strings.Repeat("ab", 64)+`"`, 1), kubetrail, goodPred)), wantInMsg: "sha256"},
		"subject with two digests":    {encoded: signedStatement(intoto(v1, strings.Replace(subject, `{"sha256"`, `{"md5":"`+strings.Repeat("00", 16)+`","sha256"`, 1), kubetrail, goodPred)), wantInMsg: "2 digests"},
		"subject digest upper case":   {encoded: signedStatement(intoto(v1, strings.Replace(subject, "0a1b", "0A1B", 1), kubetrail, goodPred)), wantInMsg: "lowercase"},
		"subject with a uri":          {encoded: signedStatement(intoto(v1, strings.Replace(subject, `"name"`, `"uri":"x","name"`, 1), kubetrail, goodPred)), wantInMsg: "other than name and digest"},
		"unknown statement field":     {encoded: signedStatement([]byte(strings.Replace(string(intoto(v1, subject, kubetrail, goodPred)), `{`, `{"extra":1,`, 1))), wantInMsg: "not an in-toto statement"},
		"unknown predicate field":     {encoded: signedStatement(intoto(v1, subject, kubetrail, strings.Replace(goodPred, `{`, `{"images":["x"],`, 1))), wantInMsg: "unknown field"},
		"predicate without audience":  {encoded: signedStatement(intoto(v1, subject, kubetrail, strings.Replace(goodPred, `"prod-eu-1"`, `""`, 1))), wantInMsg: "no audience"},
		"predicate without signedAt":  {encoded: signedStatement(intoto(v1, subject, kubetrail, strings.Replace(goodPred, `"signedAt":"2030-01-01T11:59:00Z",`, ``, 1))), wantInMsg: "no signedAt"},
		"expires before signedAt":     {encoded: signedStatement(intoto(v1, subject, kubetrail, strings.Replace(goodPred, "T13:00", "T11:00", 1))), wantInMsg: "expires before it was signed"},
		"provenance value not string": {encoded: signedStatement(intoto(v1, subject, kubetrail, strings.Replace(goodPred, `"provenance":{}`, `"provenance":{"a":1}`, 1))), wantInMsg: "predicate"},
		"envelope without signatures": {
			encoded: encodeEnvelope(t, func() dsse.Envelope {
				env := signRaw(t, priv, PayloadType, goodPayload)
				env.Signatures = nil
				return env
			}()),
			wantInMsg: "no signatures",
		},
		"too many signatures": {
			encoded: encodeEnvelope(t, func() dsse.Envelope {
				env := signRaw(t, priv, PayloadType, goodPayload)
				for len(env.Signatures) <= maxSignatures {
					env.Signatures = append(env.Signatures, env.Signatures[0])
				}
				return env
			}()),
			wantInMsg: "signatures",
		},
		"signature not base64": {
			encoded: encodeEnvelope(t, func() dsse.Envelope {
				env := signRaw(t, priv, PayloadType, goodPayload)
				env.Signatures[0].Sig = "%%%"
				return env
			}()),
			wantInMsg: "signature #1 is not base64",
		},
		"payload not base64": {
			encoded: encodeEnvelope(t, func() dsse.Envelope {
				env := signRaw(t, priv, PayloadType, goodPayload)
				env.Payload = "%%%"
				return env
			}()),
			wantInMsg: "payload is not base64",
		},
		"signed payload that is not a statement": {
			encoded:   encodeEnvelope(t, signRaw(t, priv, PayloadType, []byte(`{"hello":"world"}`))),
			wantInMsg: "not a kubetrail in-toto statement",
		},
		"signed payload that is a JSON string": {
			encoded:   encodeEnvelope(t, signRaw(t, priv, PayloadType, []byte(`"hello"`))),
			wantInMsg: "not a kubetrail in-toto statement",
		},
		"signed payload with invalid UTF-8": {
			encoded:   encodeEnvelope(t, signRaw(t, priv, PayloadType, []byte("{\"kind\":\"\xff\"}"))),
			wantInMsg: "UTF-8",
		},
		"signed statement without expiry": {
			encoded:   signedStatement(intoto(v1, subject, kubetrail, strings.Replace(goodPred, `,"expires":"2030-01-01T13:00:00Z"`, ``, 1))),
			wantInMsg: "no expiry",
		},
		"signed statement without name": {
			encoded:   signedStatement(intoto(v1, strings.Replace(subject, "shop/web", "shop/", 1), kubetrail, goodPred)),
			wantInMsg: "no name",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			keyID, err := Verify(context.Background(), tc.encoded, testStatement(), []ed25519.PublicKey{pub}, testNow)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Verify() error = %v, want ErrMalformed", err)
			}
			if keyID != "" {
				t.Errorf("Verify() key = %q on a malformed signature", keyID)
			}
			if !strings.Contains(err.Error(), tc.wantInMsg) {
				t.Errorf("Verify() error = %q, want it to mention %q", err, tc.wantInMsg)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("Verify() error is %d bytes long; messages must stay readable", len(err.Error()))
			}
		})
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVerifyCancelledContext(t *testing.T) {
	priv, pub := testKey(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, mustSign(t, testStatement(), priv), testStatement(), []ed25519.PublicKey{pub}, testNow); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify() error = %v, want context.Canceled", err)
	}
}

func TestSign(t *testing.T) {
	priv, pub := testKey(1)
	t.Run("envelope is DSSE around an in-toto Statement v1 naming the object and its digest", func(t *testing.T) {
		st := testStatement()
		st.Provenance[provenance.SignatureKey] = "old"
		enc := mustSign(t, st, priv)
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			t.Fatalf("Sign() output is not standard base64: %v", err)
		}
		var env dsse.Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatal(err)
		}
		if env.PayloadType != "application/vnd.in-toto+json" {
			t.Errorf("payloadType = %q, want application/vnd.in-toto+json", env.PayloadType)
		}
		if len(env.Signatures) != 1 || env.Signatures[0].KeyID != KeyID(pub) {
			t.Errorf("signatures = %+v, want one with keyid %q", env.Signatures, KeyID(pub))
		}
		body, _ := base64.StdEncoding.DecodeString(env.Payload)
		// Read it as any in-toto consumer would: plain JSON, the spec's field names.
		var got struct {
			Type    string `json:"_type"`
			Subject []struct {
				Name   string            `json:"name"`
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
			PredicateType string `json:"predicateType"`
			Predicate     struct {
				Audience   string            `json:"audience"`
				SignedAt   time.Time         `json:"signedAt"`
				Expires    time.Time         `json:"expires"`
				Provenance map[string]string `json:"provenance"`
			} `json:"predicate"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("payload %s: %v", body, err)
		}
		if got.Type != "https://in-toto.io/Statement/v1" || got.PredicateType != "https://kubetrail.io/provenance/v1" {
			t.Errorf("_type, predicateType = %q, %q", got.Type, got.PredicateType)
		}
		if len(got.Subject) != 1 || got.Subject[0].Name != "apps/Deployment/shop/web" ||
			"sha256:"+got.Subject[0].Digest["sha256"] != testDigest || len(got.Subject[0].Digest) != 1 {
			t.Errorf("subject = %+v, want apps/Deployment/shop/web with sha256 %s", got.Subject, testDigest)
		}
		p := got.Predicate
		if p.Audience != "prod-eu-1" || !p.SignedAt.Equal(st.SignedAt) || !p.Expires.Equal(st.Expires) || p.Provenance["kubetrail.io/commit"] != st.Provenance["kubetrail.io/commit"] {
			t.Errorf("predicate = %+v", p)
		}
		if _, ok := p.Provenance[provenance.SignatureKey]; ok {
			t.Errorf("signed provenance holds %s; a signature cannot sign itself", provenance.SignatureKey)
		}
	})
	t.Run("signedAt defaults to now", func(t *testing.T) {
		st := with(testStatement(), func(s *Statement) { s.SignedAt = time.Time{}; s.Expires = time.Now().Add(time.Hour) })
		_, _, got, err := decode(mustSign(t, st, priv))
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(got.SignedAt); d < 0 || d > time.Minute {
			t.Errorf("signedAt = %v, want about now", got.SignedAt)
		}
	})

	cases := map[string]struct {
		st        Statement
		key       ed25519.PrivateKey
		wantInMsg string
	}{
		"no kind":        {st: with(testStatement(), func(s *Statement) { s.Kind = "" }), key: priv, wantInMsg: "statement.kind"},
		"no name":        {st: with(testStatement(), func(s *Statement) { s.Name = "" }), key: priv, wantInMsg: "statement.name"},
		"no expiry":      {st: with(testStatement(), func(s *Statement) { s.Expires = time.Time{} }), key: priv, wantInMsg: "statement.expires"},
		"no digest":      {st: with(testStatement(), func(s *Statement) { s.Digest = "" }), key: priv, wantInMsg: "statement.digest"},
		"bad digest":     {st: with(testStatement(), func(s *Statement) { s.Digest = "sha256:xyz" }), key: priv, wantInMsg: "statement.digest"},
		"no audience":    {st: with(testStatement(), func(s *Statement) { s.Audience = " " }), key: priv, wantInMsg: "statement.audience"},
		"slash in name":  {st: with(testStatement(), func(s *Statement) { s.Name = "a/b" }), key: priv, wantInMsg: `"/"`},
		"expires first":  {st: with(testStatement(), func(s *Statement) { s.Expires = s.SignedAt }), key: priv, wantInMsg: "not after statement.signedAt"},
		"nil key":        {st: testStatement(), key: nil, wantInMsg: "ed25519"},
		"truncated key":  {st: testStatement(), key: priv[:32], wantInMsg: "ed25519"},
		"public as priv": {st: testStatement(), key: ed25519.PrivateKey(pub), wantInMsg: "ed25519"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			enc, err := Sign(context.Background(), tc.st, tc.key)
			if err == nil {
				t.Fatalf("Sign() = %q, want an error", enc)
			}
			if !strings.Contains(err.Error(), tc.wantInMsg) {
				t.Errorf("Sign() error = %q, want it to mention %q", err, tc.wantInMsg)
			}
		})
	}
}

func TestStatementOf(t *testing.T) {
	obj := map[string]interface{}{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata": map[string]interface{}{
			"name": "web", "namespace": "shop",
			"annotations": map[string]interface{}{
				"kubetrail.io/commit":      "abc",
				"kubetrail.io/signature":   "xyz",
				"kubetrail.io/break-glass": "INC-1",
				"example.com/owner":        "team-a",
				"kubetrail.io/not-string":  5,
			},
		},
		"spec": map[string]interface{}{"template": map[string]interface{}{"spec": map[string]interface{}{
			"containers": []interface{}{map[string]interface{}{"name": "app", "image": "nginx:1.27"}},
		}}},
	}
	got := StatementOf(obj)
	if got.Group != "apps" || got.Kind != "Deployment" || got.Namespace != "shop" || got.Name != "web" {
		t.Errorf("StatementOf() identity = %q %q %q %q, want apps Deployment shop web", got.Group, got.Kind, got.Namespace, got.Name)
	}
	if len(got.Provenance) != 1 || got.Provenance["kubetrail.io/commit"] != "abc" {
		t.Errorf("StatementOf() provenance = %v, want only kubetrail.io/commit", got.Provenance)
	}
	if want, _ := digest.Of(obj, nil); got.Digest != want || !digest.Valid(got.Digest) {
		t.Errorf("StatementOf() digest = %q, want digest.Of(obj, nil) = %q, the digest the webhook stamps", got.Digest, want)
	}
	if core := StatementOf(map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap"}); core.Group != "" {
		t.Errorf("core group = %q, want empty", core.Group)
	}
	// Malformed objects give an empty statement, not a panic.
	_ = StatementOf(map[string]interface{}{"metadata": "oops", "apiVersion": 7})
	_ = StatementOf(nil)
	if bad := StatementOf(map[string]interface{}{"kind": "ConfigMap", "data": map[string]interface{}{"x": make(chan int)}}); bad.Digest != "" {
		t.Errorf("digest of content that is not JSON = %q, want empty", bad.Digest)
	}
}
