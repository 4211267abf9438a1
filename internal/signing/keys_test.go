package signing

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"
)

func TestGenerateKeyRoundTrip(t *testing.T) {
	privPEM, pubPEM, err := GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	if !bytes.HasPrefix(privPEM, []byte("-----BEGIN PRIVATE KEY-----")) || !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Fatalf("GenerateKey() PEM headers = %q / %q, want PRIVATE KEY / PUBLIC KEY", firstLine(privPEM), firstLine(pubPEM))
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatalf("ParsePrivateKey(GenerateKey()): %v", err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatalf("ParsePublicKey(GenerateKey()): %v", err)
	}
	if !pub.Equal(priv.Public()) {
		t.Error("the generated public key does not belong to the generated private key")
	}
	id := KeyID(pub)
	if !strings.HasPrefix(id, "sha256:") || len(id) != len("sha256:")+64 {
		t.Errorf("KeyID() = %q, want sha256:<64 hex>", id)
	}
	if KeyID(pub) != id {
		t.Error("KeyID() is not stable")
	}
	_, otherPub, _ := GenerateKey()
	other, _ := ParsePublicKey(otherPub)
	if KeyID(other) == id {
		t.Error("two generated keys have the same KeyID")
	}
	if got := KeyID(pub[:5]); got != "" {
		t.Errorf("KeyID(short key) = %q, want empty", got)
	}
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}

func TestKeyIDMatchesOpenSSL(t *testing.T) {
	// Known answer from `openssl pkey -pubin -outform DER | sha256sum` on the
	// all-ones-seed key's PEM, so operators can compute a KeyID without kubetrail.
	_, pub := testKey(1)
	const want = "sha256:fd110d301d2f077de1414b8f99f441b1403fab207b2052fbd2c065e4ee8e7dc2"
	if got := KeyID(pub); got != want {
		t.Errorf("KeyID() = %q, want %q", got, want)
	}
}

func pemOf(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseKeyErrors(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	privPEM, pubPEM, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}

	cases := map[string]struct {
		input     []byte
		public    bool // parse as a public key
		wantInMsg []string
	}{
		"private: not PEM":          {input: []byte("hello"), wantInMsg: []string{"not PEM", "kubectl trail keygen"}},
		"private: empty":            {input: nil, wantInMsg: []string{"not PEM"}},
		"private: ECDSA key":        {input: pemOf(t, "PRIVATE KEY", ecPriv), wantInMsg: []string{"ECDSA", "ed25519", "kubectl trail keygen"}},
		"private: public key given": {input: pubPEM, wantInMsg: []string{"PUBLIC KEY", "PRIVATE KEY"}},
		"private: garbage DER":      {input: pemOf(t, "PRIVATE KEY", []byte("junk")), wantInMsg: []string{"not a valid PKCS#8"}},
		"private: encrypted":        {input: pemOf(t, "ENCRYPTED PRIVATE KEY", []byte("junk")), wantInMsg: []string{"encrypted"}},
		"private: OpenSSH format":   {input: pemOf(t, "OPENSSH PRIVATE KEY", []byte("junk")), wantInMsg: []string{`"OPENSSH PRIVATE KEY"`, "kubectl trail keygen"}},
		"public: not PEM":           {input: []byte("ssh-ed25519 AAAA"), public: true, wantInMsg: []string{"not PEM", "kubectl trail keygen"}},
		"public: ECDSA key":         {input: pemOf(t, "PUBLIC KEY", ecPub), public: true, wantInMsg: []string{"ECDSA", "ed25519"}},
		"public: private key given": {input: privPEM, public: true, wantInMsg: []string{"PRIVATE KEY", "never the private one"}},
		"public: garbage DER":       {input: pemOf(t, "PUBLIC KEY", []byte("junk")), public: true, wantInMsg: []string{"not a valid PKIX"}},
		"public: certificate block": {input: pemOf(t, "CERTIFICATE", []byte("junk")), public: true, wantInMsg: []string{`"CERTIFICATE"`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var err error
			if tc.public {
				var k ed25519.PublicKey
				k, err = ParsePublicKey(tc.input)
				if k != nil {
					t.Errorf("ParsePublicKey() returned a key along with %v", err)
				}
			} else {
				var k ed25519.PrivateKey
				k, err = ParsePrivateKey(tc.input)
				if k != nil {
					t.Errorf("ParsePrivateKey() returned a key along with %v", err)
				}
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, s := range tc.wantInMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error = %q, want it to mention %q", err, s)
				}
			}
		})
	}
}

func TestParsePublicKeys(t *testing.T) {
	_, a, _ := GenerateKey()
	_, b, _ := GenerateKey()
	keys, err := ParsePublicKeys(append(append([]byte{}, a...), b...))
	if err != nil {
		t.Fatalf("ParsePublicKeys(two keys): %v", err)
	}
	if len(keys) != 2 || keys[0].Equal(keys[1]) {
		t.Errorf("ParsePublicKeys() = %d keys, want 2 distinct", len(keys))
	}
	privPEM, _, _ := GenerateKey()
	if _, err := ParsePublicKeys(append(append([]byte{}, a...), privPEM...)); err == nil || !strings.Contains(err.Error(), "trusted key #2") {
		t.Errorf("ParsePublicKeys(public+private) error = %v, want it to name trusted key #2", err)
	}
	if _, err := ParsePublicKeys([]byte("nothing here")); err == nil {
		t.Error("ParsePublicKeys(no PEM) succeeded, want an error")
	}
}

func TestKeyIDIsThatOfThePKIXEncoding(t *testing.T) {
	for i := 0; i < 50; i++ {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(der)
		if want := "sha256:" + hex.EncodeToString(sum[:]); KeyID(pub) != want {
			t.Fatalf("KeyID = %s, want %s", KeyID(pub), want)
		}
	}
	if KeyID(ed25519.PublicKey("short")) != "" {
		t.Error("a key of the wrong length has a KeyID")
	}
}
