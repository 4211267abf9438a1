package signing

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// keygenHint tells a user how to get a key kubetrail accepts.
const keygenHint = "kubetrail signs with ed25519; make a key with `kubectl trail keygen`"

// PEM block types GenerateKey writes and the parsers accept.
const (
	privateKeyBlock = "PRIVATE KEY"
	publicKeyBlock  = "PUBLIC KEY"
)

// GenerateKey makes a new ed25519 key pair, encoded as a PKCS#8 "PRIVATE KEY" and a
// PKIX "PUBLIC KEY" PEM block, the encodings openssl and most KMS tools read.
func GenerateKey() (privatePEM, publicPEM []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating an ed25519 key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the private key as PKCS#8: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the public key as PKIX: %w", err)
	}
	privatePEM = pem.EncodeToMemory(&pem.Block{Type: privateKeyBlock, Bytes: privDER})
	publicPEM = pem.EncodeToMemory(&pem.Block{Type: publicKeyBlock, Bytes: pubDER})
	return privatePEM, publicPEM, nil
}

// ParsePrivateKey reads the signing key GenerateKey wrote (a PKCS#8 "PRIVATE KEY" PEM
// block holding an ed25519 key).
func ParsePrivateKey(pemBytes []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("the signing key is not PEM (no -----BEGIN %s----- block); %s", privateKeyBlock, keygenHint)
	}
	switch block.Type {
	case privateKeyBlock:
	case publicKeyBlock:
		return nil, errors.New("the signing key is a PUBLIC KEY; signing needs the PRIVATE KEY that `kubectl trail keygen` wrote next to it")
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("the signing key is encrypted; give kubetrail an unencrypted PKCS#8 key (keep it in a Secret or CI variable instead); %s", keygenHint)
	default:
		return nil, fmt.Errorf("the signing key is a PEM %q block, want %q; %s", block.Type, privateKeyBlock, keygenHint)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the signing key is not a valid PKCS#8 private key (%v); %s", err, keygenHint)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the signing key is a %s key; %s", keyTypeName(key), keygenHint)
	}
	return priv, nil
}

// ParsePublicKey reads one trusted key (a PKIX "PUBLIC KEY" PEM block holding an
// ed25519 key). Use ParsePublicKeys for a file holding several.
func ParsePublicKey(pemBytes []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("the public key is not PEM (no -----BEGIN %s----- block); %s", publicKeyBlock, keygenHint)
	}
	return parsePublicBlock(block)
}

// ParsePublicKeys reads every PEM block of a trusted-keys file, so that a key can be
// rotated by trusting the old and the new key for a while. It fails on the first
// block that is not an ed25519 public key, because silently trusting fewer keys than
// the operator listed would reject objects they expect to pass.
func ParsePublicKeys(pemBytes []byte) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	rest := pemBytes
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		key, err := parsePublicBlock(block)
		if err != nil {
			return nil, fmt.Errorf("trusted key #%d: %w", len(keys)+1, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no trusted keys found: want one or more -----BEGIN %s----- blocks; %s", publicKeyBlock, keygenHint)
	}
	return keys, nil
}

func parsePublicBlock(block *pem.Block) (ed25519.PublicKey, error) {
	switch block.Type {
	case publicKeyBlock:
	case privateKeyBlock, "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the public key is a PRIVATE KEY; give the webhook only the PUBLIC KEY that `kubectl trail keygen` wrote, never the private one")
	default:
		return nil, fmt.Errorf("the public key is a PEM %q block, want %q; %s", block.Type, publicKeyBlock, keygenHint)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the public key is not a valid PKIX public key (%v); %s", err, keygenHint)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the public key is a %s key; %s", keyTypeName(key), keygenHint)
	}
	return pub, nil
}

// keyTypeName names a parsed key's algorithm the way users know it.
func keyTypeName(key any) string {
	switch fmt.Sprintf("%T", key) {
	case "*rsa.PrivateKey", "*rsa.PublicKey":
		return "RSA"
	case "*ecdsa.PrivateKey", "*ecdsa.PublicKey":
		return "ECDSA"
	case "*ecdh.PrivateKey", "*ecdh.PublicKey":
		return "X25519 (ECDH)"
	default:
		return fmt.Sprintf("%T", key)
	}
}

// KeyID names a public key in envelopes, errors and logs: "sha256:" and the hex
// SHA-256 of its PKIX DER encoding, so that `openssl pkey -pubin -outform DER |
// sha256sum` gives the same name. It returns "" for a key of the wrong length, which
// no valid key has.
func KeyID(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		return ""
	}
	// The DER is a fixed header and the key (RFC 8410), what x509.MarshalPKIXPublicKey
	// writes for an ed25519 key (TestKeyIDIsThatOfThePKIXEncoding), built here without
	// its ASN.1 encoder: Verify names every trusted key on every call.
	var der [len(ed25519PKIXHeader) + ed25519.PublicKeySize]byte
	copy(der[copy(der[:], ed25519PKIXHeader):], pub)
	sum := sha256.Sum256(der[:])
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ed25519PKIXHeader starts the PKIX DER of every ed25519 public key: SEQUENCE {
// SEQUENCE { OID 1.3.101.112 }, BIT STRING (no unused bits) } around the 32 bytes.
const ed25519PKIXHeader = "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00"
