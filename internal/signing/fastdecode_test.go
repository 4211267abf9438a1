package signing

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// checkFastDecode fails t when the fast envelope decoder accepts raw but
// strictUnmarshal does not, or reads it differently. It reports whether the fast
// decoder accepted.
func checkFastDecode(t *testing.T, raw []byte) (envOK bool) {
	t.Helper()
	if env, ok := fastEnvelope(string(raw)); ok {
		var want dsse.Envelope
		if err := strictUnmarshal(raw, &want); err != nil || !reflect.DeepEqual(env, want) {
			t.Fatalf("fastEnvelope(%s) = %+v; strictUnmarshal = %+v, %v", raw, env, want, err)
		}
		envOK = true
	}
	return envOK
}

// fastDecodeSeeds are envelopes Sign writes.
func fastDecodeSeeds(t testing.TB) (envelopes []string) {
	priv, _ := testKey(1)
	for _, st := range []Statement{
		testStatement(),
		with(testStatement(), func(st *Statement) { st.Namespace = "" }),
		with(testStatement(), func(st *Statement) {
			st.Provenance = map[string]string{"kubetrail.io/repository": "https://x/?a=1&b=<2>", "kubetrail.io/path": "dé/ploy\u2028"}
		}),
		with(testStatement(), func(st *Statement) { st.Provenance = nil; st.Expires = testNow.In(time.FixedZone("x", 3600)) }),
	} {
		enc := mustSign(t, st, priv)
		raw, _ := base64.StdEncoding.DecodeString(enc)
		envelopes = append(envelopes, string(raw))
	}
	return envelopes
}

func TestFastDecodeAgreesWithStrictUnmarshal(t *testing.T) {
	envelopes := fastDecodeSeeds(t)
	for _, raw := range envelopes {
		if !checkFastDecode(t, []byte(raw)) {
			t.Errorf("fastEnvelope does not read what Sign writes: %s", raw)
		}
	}
	// Variations: some read here, the rest left to strictUnmarshal.
	env := envelopes[0]
	for _, raw := range []string{
		" " + strings.ReplaceAll(env, ",", " ,\n ") + " ", env + "x", env + "{}", strings.Replace(env, `"payloadType"`, `"PayloadType"`, 1),
		strings.Replace(env, `"sig"`, `"si\u0067"`, 1), strings.Replace(env, `"keyid":`, `"keyid":null,"keyid":`, 1),
		strings.Replace(env, `}]`, `},{"keyid":"","sig":"c2ln"}]`, 1), strings.Replace(env, `}]`, `},]`, 1),
		`{"payloadType":"a","payload":"b","signatures":[]}`, `{"payloadType":"a","payload":"b","signatures":null}`,
		`{"payloadType":"a","payload":"b","signatures":[{"keyid":"k","sig":"s","extra":1}]}`,
	} {
		checkFastDecode(t, []byte(raw))
	}
}

func FuzzFastDecode(f *testing.F) {
	for _, s := range fastDecodeSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkFastDecode(t, raw)
	})
}

// Verify decodes the envelope with the fast path, as strictUnmarshal would.
func TestDecodeUsesTheFastPath(t *testing.T) {
	priv, _ := testKey(1)
	enc := mustSign(t, testStatement(), priv)
	env, _, st, err := decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(enc)
	var wantEnv dsse.Envelope
	if err := strictUnmarshal(raw, &wantEnv); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*env, wantEnv) {
		t.Errorf("decode = %+v; want %+v", *env, wantEnv)
	}
	if want := testStatement(); !reflect.DeepEqual(st, want.normalized()) {
		t.Errorf("decoded statement %+v, want %+v", st, want.normalized())
	}
}
