package signing

import (
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/kubetrail/kubetrail/internal/jsonfast"
)

// An envelope is decoded on every admission of a signed object (the verification
// cache keeps only verified ones, and a new deploy brings a new signature), and
// strictUnmarshal's reflection over encoding/json's two passes cost more than a tenth
// of both webhooks' time. Envelopes and statements in the form Sign writes them (the
// fields in json.Marshal's order, each once, exact names) are decoded here instead;
// anything else goes to strictUnmarshal, which then decides, with its own errors.
// What is accepted here strictUnmarshal accepts too, with the same result:
// TestFastDecodeAgreesWithStrictUnmarshal and FuzzFastDecode compare the two.

// decodeEnvelope decodes a DSSE envelope strictly.
func decodeEnvelope(raw []byte) (dsse.Envelope, error) {
	if env, ok := fastEnvelope(string(raw)); ok {
		return env, nil
	}
	var env dsse.Envelope
	err := strictUnmarshal(raw, &env)
	return env, err
}

// decodeStatement decodes a statement strictly.
func decodeStatement(raw []byte) (Statement, error) {
	if st, ok := fastStatement(string(raw)); ok {
		return st, nil
	}
	var st Statement
	err := strictUnmarshal(raw, &st)
	return st, err
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

// fastStatement reads {"group":s,"kind":s[,"namespace":s],"name":s,
// "provenance":{s:s,...}[,"images":[s,...]],"expires":time}.
func fastStatement(raw string) (st Statement, ok bool) {
	p := jsonfast.NewScanner(raw)
	field := func(name string, dst *string) bool {
		if !p.Token(`"`+name+`"`) || !p.Token(":") {
			return false
		}
		*dst, ok = p.StringValue()
		return ok && p.Token(",")
	}
	if !p.Token("{") || !field("group", &st.Group) || !field("kind", &st.Kind) {
		return st, false
	}
	if p.Token(`"namespace"`) {
		if !p.Token(":") {
			return st, false
		}
		if st.Namespace, ok = p.StringValue(); !ok || !p.Token(",") {
			return st, false
		}
	}
	if !field("name", &st.Name) || !p.Token(`"provenance"`) || !p.Token(":") || !p.Token("{") {
		return st, false
	}
	st.Provenance = map[string]string{}
	if !p.Token("}") {
		for {
			k, ok := p.StringValue()
			if !ok || !p.Token(":") {
				return st, false
			}
			v, ok := p.StringValue()
			if !ok {
				return st, false
			}
			st.Provenance[k] = v // a repeated key keeps its last value, as in encoding/json
			if p.Token("}") {
				break
			}
			if !p.Token(",") {
				return st, false
			}
		}
	}
	if !p.Token(",") {
		return st, false
	}
	if p.Token(`"images"`) {
		if !p.Token(":") || !p.Token("[") {
			return st, false
		}
		st.Images = []string{}
		if !p.Token("]") {
			for {
				img, ok := p.StringValue()
				if !ok {
					return st, false
				}
				st.Images = append(st.Images, img)
				if p.Token("]") {
					break
				}
				if !p.Token(",") {
					return st, false
				}
			}
		}
		if !p.Token(",") {
			return st, false
		}
	}
	if !p.Token(`"expires"`) || !p.Token(":") {
		return st, false
	}
	// encoding/json hands time.Time the token as written.
	rawTime, ok := p.RawStringValue()
	if !ok {
		return st, false
	}
	var expires time.Time
	if err := expires.UnmarshalJSON([]byte(rawTime)); err != nil {
		return st, false
	}
	st.Expires = expires
	return st, p.Token("}") && p.End()
}
