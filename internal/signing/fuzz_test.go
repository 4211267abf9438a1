package signing

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var updateSeeds = flag.Bool("update", false, "rewrite the FuzzVerify seed corpus under testdata/fuzz/FuzzVerify")

// FuzzVerify feeds arbitrary annotation values to Verify: it must never panic, never
// accept anything but a genuine signature, and always fail with one of the documented
// error classes so the webhook can explain the rejection.
func FuzzVerify(f *testing.F) {
	_, pub := testKey(1)
	want := testStatement()
	trusted := []ed25519.PublicKey{pub}
	f.Fuzz(func(t *testing.T, encoded string) {
		keyID, err := Verify(context.Background(), encoded, want, trusted, testNow)
		if err == nil {
			if keyID != KeyID(pub) {
				t.Fatalf("Verify() accepted with key %q, want %q", keyID, KeyID(pub))
			}
			return
		}
		if keyID != "" {
			t.Fatalf("Verify() returned key %q along with error %v", keyID, err)
		}
		var mm *MismatchError
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUntrustedKey) && !errors.Is(err, ErrExpired) && !errors.As(err, &mm) {
			t.Fatalf("Verify() error %v is none of the documented classes", err)
		}
		if len(err.Error()) > 2000 {
			t.Fatalf("Verify() error is %d bytes; it must stay readable", len(err.Error()))
		}
	})
}

// FuzzDecodeStatement feeds arbitrary payloads to the in-toto statement decoder: it
// must never panic, and what it accepts must come back the same through Sign's
// encoder (so the verifier and the signer read one format).
func FuzzDecodeStatement(f *testing.F) {
	for _, st := range []Statement{testStatement(), with(testStatement(), func(s *Statement) { s.Namespace, s.Group = "", "" })} {
		raw, err := encodeStatement(st.normalized())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a/b/c/d","digest":{"sha256":"00"}}],"predicateType":"x","predicate":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		st, err := decodeStatement(raw)
		if err != nil {
			return
		}
		again, err := encodeStatement(st)
		if err != nil {
			// Only a statement Sign would refuse (e.g. a "/" in a name part cannot
			// happen: the name is split on it) may fail to encode.
			t.Fatalf("decodeStatement accepted %s but it does not encode again: %v", raw, err)
		}
		back, err := decodeStatement(again)
		if err != nil || !reflect.DeepEqual(back, st) {
			t.Fatalf("round trip of %s: %+v, %v; want %+v", raw, back, err, st)
		}
	})
}

// fuzzSeeds are the committed FuzzVerify corpus files and what Verify says about
// each, so the corpus keeps covering every outcome (a stale "valid" seed would make
// the fuzzer start far from the interesting code).
func fuzzSeeds(t *testing.T) map[string]struct {
	value string
	check func(error) bool
} {
	priv, _ := testKey(1)
	otherPriv, _ := testKey(2)
	var mm *MismatchError
	return map[string]struct {
		value string
		check func(error) bool
	}{
		"valid-envelope": {mustSign(t, testStatement(), priv), func(err error) bool { return err == nil }},
		"expired-envelope": {mustSign(t, with(testStatement(), func(s *Statement) { s.SignedAt, s.Expires = testNow.Add(-2*time.Hour), testNow.Add(-time.Minute) }), priv),
			func(err error) bool { return errors.Is(err, ErrExpired) }},
		"other-key-envelope": {mustSign(t, testStatement(), otherPriv), func(err error) bool { return errors.Is(err, ErrUntrustedKey) }},
		"other-object-envelope": {mustSign(t, with(testStatement(), func(s *Statement) { s.Name = "api" }), priv),
			func(err error) bool { return errors.As(err, &mm) && mm.Field == "name" }},
		"other-content-envelope": {mustSign(t, with(testStatement(), func(s *Statement) { s.Digest = "sha256:" + strings.Repeat("e", 64) }), priv),
			func(err error) bool { return errors.As(err, &mm) && mm.Field == "digest" }},
		"wrong-payload-type": {encodeEnvelope(t, signRaw(t, priv, LegacyPayloadType, []byte(`{"kind":"Deployment"}`))),
			func(err error) bool { return errors.Is(err, ErrMalformed) }},
		"not-base64": {"not base64 at all", func(err error) bool { return errors.Is(err, ErrMalformed) }},
		"empty":      {"", func(err error) bool { return errors.Is(err, ErrMalformed) }},
	}
}

func TestFuzzSeeds(t *testing.T) {
	_, pub := testKey(1)
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	for name, seed := range fuzzSeeds(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			content := fmt.Sprintf("go test fuzz v1\nstring(%s)\n", strconv.Quote(seed.value))
			if *updateSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("seed missing (run go test ./internal/signing -run TestFuzzSeeds -update): %v", err)
			}
			value, ok := parseSeed(string(got))
			if !ok {
				t.Fatalf("%s is not a `go test fuzz v1` file with one string", path)
			}
			if value != seed.value {
				t.Errorf("%s is stale; regenerate with -update", path)
			}
			if _, err := Verify(context.Background(), value, testStatement(), []ed25519.PublicKey{pub}, testNow); !seed.check(err) {
				t.Errorf("Verify(seed %s) error = %v, not the outcome this seed stands for", name, err)
			}
		})
	}
}

func parseSeed(content string) (string, bool) {
	lines := strings.Split(strings.TrimSpace(content), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		return "", false
	}
	arg, ok := strings.CutPrefix(lines[1], "string(")
	if !ok {
		return "", false
	}
	arg, ok = strings.CutSuffix(arg, ")")
	if !ok {
		return "", false
	}
	value, err := strconv.Unquote(arg)
	return value, err == nil
}
