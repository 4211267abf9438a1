package signing

import (
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/kubetrail/kubetrail/internal/jsonfast"
)

// An envelope is decoded on every admission of a signed object (the verification
// cache keeps only verified ones, and a new deploy brings a new signature), and
// strictUnmarshal's reflection over encoding/json's two passes cost more than a tenth
// of both webhooks' time. Envelopes in the form Sign writes them (the fields in
// json.Marshal's order, each once, exact names) are decoded here instead; anything
// else goes to strictUnmarshal, which then decides, with its own errors. What is
// accepted here strictUnmarshal accepts too, with the same result:
// TestFastDecodeAgreesWithStrictUnmarshal and FuzzFastDecode compare the two. The
// in-toto statement inside is decoded by protojson (statement.go), once per
// signature and process: the verification cache keeps it.

// decodeEnvelope decodes a DSSE envelope strictly.
func decodeEnvelope(raw []byte) (dsse.Envelope, error) {
	if env, ok := fastEnvelope(string(raw)); ok {
		return env, nil
	}
	var env dsse.Envelope
	err := strictUnmarshal(raw, &env)
	return env, err
}

// fastEnvelope reads {"payloadType":s,"payload":s,"signatures":[{"keyid":s,"sig":s},...]}.
func fastEnvelope(raw string) (env dsse.Envelope, ok bool) {
	p := jsonfast.NewScanner(raw)
	if !p.Token("{") || !p.Token(`"payloadType"`) || !p.Token(":") {
		return env, false
	}
	if env.PayloadType, ok = p.StringValue(); !ok {
		return env, false
	}
	if !p.Token(",") || !p.Token(`"payload"`) || !p.Token(":") {
		return env, false
	}
	if env.Payload, ok = p.StringValue(); !ok {
		return env, false
	}
	if !p.Token(",") || !p.Token(`"signatures"`) || !p.Token(":") || !p.Token("[") {
		return env, false
	}
	env.Signatures = []dsse.Signature{}
	for {
		var s dsse.Signature
		if !p.Token("{") || !p.Token(`"keyid"`) || !p.Token(":") {
			return env, false
		}
		if s.KeyID, ok = p.StringValue(); !ok {
			return env, false
		}
		if !p.Token(",") || !p.Token(`"sig"`) || !p.Token(":") {
			return env, false
		}
		if s.Sig, ok = p.StringValue(); !ok || !p.Token("}") {
			return env, false
		}
		env.Signatures = append(env.Signatures, s)
		if p.Token("]") {
			break
		}
		if !p.Token(",") {
			return env, false
		}
	}
	return env, p.Token("}") && p.End()
}
