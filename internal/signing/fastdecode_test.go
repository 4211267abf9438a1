package signing

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// checkFastDecode fails t when the fast decoders accept raw but strictUnmarshal does
// not, or reads it differently. It reports which fast decoders accepted.
func checkFastDecode(t *testing.T, raw []byte) (envOK, stOK bool) {
	t.Helper()
	if env, ok := fastEnvelope(string(raw)); ok {
		var want dsse.Envelope
		if err := strictUnmarshal(raw, &want); err != nil || !reflect.DeepEqual(env, want) {
			t.Fatalf("fastEnvelope(%s) = %+v; strictUnmarshal = %+v, %v", raw, env, want, err)
		}
		envOK = true
	}
	if st, ok := fastStatement(string(raw)); ok {
		var want Statement
		if err := strictUnmarshal(raw, &want); err != nil || !reflect.DeepEqual(st, want) {
			t.Fatalf("fastStatement(%s) = %+v; strictUnmarshal = %+v, %v", raw, st, want, err)
		}
		stOK = true
	}
	return envOK, stOK
}

// fastDecodeSeeds are what Sign writes, and variations of it.
func fastDecodeSeeds(t testing.TB) (envelopes, statements []string) {
	priv, _ := testKey(1)
	for _, st := range []Statement{
		testStatement(),
		with(testStatement(), func(st *Statement) { st.Namespace, st.Images = "", nil }),
		with(testStatement(), func(st *Statement) {
			st.Provenance = map[string]string{"kubetrail.io/repository": "https://x/?a=1&b=<2>", "kubetrail.io/path": "dé/ploy\u2028"}
		}),
		with(testStatement(), func(st *Statement) { st.Provenance = nil; st.Expires = testNow.In(time.FixedZone("x", 3600)) }),
	} {
		enc := mustSign(t, st, priv)
		raw, _ := base64.StdEncoding.DecodeString(enc)
		envelopes = append(envelopes, string(raw))
		var env dsse.Envelope
		_ = json.Unmarshal(raw, &env)
		payload, _ := base64.StdEncoding.DecodeString(env.Payload)
		statements = append(statements, string(payload))
	}
	return envelopes, statements
}

func TestFastDecodeAgreesWithStrictUnmarshal(t *testing.T) {
	envelopes, statements := fastDecodeSeeds(t)
	for _, raw := range envelopes {
		if envOK, _ := checkFastDecode(t, []byte(raw)); !envOK {
			t.Errorf("fastEnvelope does not read what Sign writes: %s", raw)
		}
	}
	for _, raw := range statements {
		if _, stOK := checkFastDecode(t, []byte(raw)); !stOK {
			t.Errorf("fastStatement does not read what Sign writes: %s", raw)
		}
	}
	// Variations: some read here, the rest left to strictUnmarshal.
	env, st := envelopes[0], statements[0]
	for _, raw := range []string{
		" " + strings.ReplaceAll(env, ",", " ,\n ") + " ", env + "x", env + "{}", strings.Replace(env, `"payloadType"`, `"PayloadType"`, 1),
		strings.Replace(env, `"sig"`, `"si\u0067"`, 1), strings.Replace(env, `"keyid":`, `"keyid":null,"keyid":`, 1),
		strings.Replace(env, `}]`, `},{"keyid":"","sig":"c2ln"}]`, 1), strings.Replace(env, `}]`, `},]`, 1),
		`{"payloadType":"a","payload":"b","signatures":[]}`, `{"payloadType":"a","payload":"b","signatures":null}`,
		`{"payloadType":"a","payload":"b","signatures":[{"keyid":"k","sig":"s","extra":1}]}`,
		strings.Replace(st, `"expires":"`, `"expires": "`, 1), strings.Replace(st, `Z"`, `\u005a"`, 1), strings.Replace(st, `Z"`, `+01:00"`, 1),
		strings.Replace(st, `Z"`, `"`, 1), strings.Replace(st, `"group"`, `"Group"`, 1), strings.Replace(st, `"name":"web",`, ``, 1),
		strings.Replace(st, `"provenance":{`, `"provenance":{"a":"1","a":"2",`, 1), strings.Replace(st, `"images":[`, `"images":[null,`, 1),
		strings.Replace(st, `"images":[`, `"images":[],"images":[`, 1), strings.Replace(st, `"kind"`, `"kind":"x","kind"`, 1),
		strings.Replace(st, `}`, `,"x":1}`, 1), st + " \n", st + "1",
	} {
		checkFastDecode(t, []byte(raw))
	}
}

func FuzzFastDecode(f *testing.F) {
	envelopes, statements := fastDecodeSeeds(f)
	for _, s := range append(envelopes, statements...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkFastDecode(t, raw)
	})
}

// Verify decodes with the fast path what it used to decode with strictUnmarshal alone.
func TestDecodeUsesTheFastPath(t *testing.T) {
	priv, _ := testKey(1)
	enc := mustSign(t, testStatement(), priv)
	env, payload, st, err := decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(enc)
	var wantEnv dsse.Envelope
	var wantSt Statement
	if err := strictUnmarshal(raw, &wantEnv); err != nil {
		t.Fatal(err)
	}
	if err := strictUnmarshal(payload, &wantSt); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*env, wantEnv) || !reflect.DeepEqual(st, wantSt) {
		t.Errorf("decode = %+v, %+v; want %+v, %+v", *env, st, wantEnv, wantSt)
	}
	if fmt.Sprint(st.Expires) != fmt.Sprint(testStatement().Expires) {
		t.Errorf("expires %v, want %v", st.Expires, testStatement().Expires)
	}
}
