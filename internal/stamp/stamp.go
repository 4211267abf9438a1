// Package stamp writes kubetrail provenance annotations (and, given a key, a
// signature) into rendered Kubernetes manifests, as `kubectl trail stamp` does in a
// pipeline between `kustomize build` / `helm template` and `kubectl apply`.
//
// Stamp changes nothing in the manifests but the kubetrail.io/ annotations: comments,
// key order, quoting, indentation, flow style and document separators are kept byte
// for byte, so that a diff of the stamped output against the input shows only the
// added annotation lines (see text.go for how).
//
// Lists (kind: List, as `kubectl get -o yaml` prints several objects) are not stamped
// item by item: Stamp rejects them, since kustomize and helm emit one document per
// object and a List's items would need a second layout of edits.
package stamp

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
)

// DefaultExpires is how long a signature stays valid when Options.Expires is zero.
const DefaultExpires = 24 * time.Hour

// Options says what Stamp writes.
type Options struct {
	// Provenance is written as annotations; empty fields are left out. Signature
	// must be empty: set Key to sign.
	Provenance provenance.Provenance
	// Key signs every object when set; nil writes no signature.
	Key ed25519.PrivateKey
	// Audience names the cluster the signatures are for (the TracePolicy's
	// spec.signing.audience). Required with Key.
	Audience string
	// Resolve, when set, returns an object as the apiserver will admit it (a
	// server-side dry run: defaults filled in, other mutating webhooks applied); the
	// signature binds the content digest of what it returns. When nil, the digest is
	// computed from the manifest itself, so every field the apiserver would default
	// must be written out in it (see docs/admission.md, "Signatures").
	Resolve func(obj map[string]interface{}) (map[string]interface{}, error)
	// Expires is how long the signatures stay valid (DefaultExpires when zero).
	Expires time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Namespace is the namespace the objects will be applied to (kubectl apply -n).
	// An object without metadata.namespace is signed for it, because the API server
	// fills the namespace in before the webhook verifies the signature. Kinds known to
	// be cluster-scoped are signed without a namespace.
	Namespace string
	// Warnings receives one "warning: ..." line per warning (discarded when nil).
	Warnings io.Writer
	// InputName, when set, prefixes errors and warnings (e.g. the file name).
	InputName string
}

// FieldError is a problem with one provenance field, named by its command line flag.
type FieldError struct {
	Flag    string // e.g. "--commit"
	Key     string // e.g. "kubetrail.io/commit"
	Message string // e.g. "must be the full commit SHA, ..."
}

func (e FieldError) Error() string { return e.Flag + ": " + e.Message }

// FieldErrors are the problems ValidateProvenance found.
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	msgs := make([]string, len(e))
	for i, fe := range e {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "; ")
}

// FlagFor names the command line flag of a provenance annotation key:
// kubetrail.io/pull-request is --pull-request.
func FlagFor(key string) string { return "--" + strings.TrimPrefix(key, provenance.Prefix) }

// ValidateProvenance checks the provenance Stamp is asked to write, naming each bad
// field by its flag. It returns nil or FieldErrors.
func ValidateProvenance(p provenance.Provenance) error {
	var out FieldErrors
	if p.Signature != "" {
		out = append(out, FieldError{Flag: FlagFor(provenance.SignatureKey), Key: provenance.SignatureKey,
			Message: "stamp writes the signature itself: give it the signing key instead"})
		p.Signature = ""
	}
	for _, e := range provenance.Validate(p.Annotations(), nil) {
		key := strings.TrimSuffix(strings.TrimPrefix(e.Field, "["), "]")
		msg := e.Detail
		switch e.Type {
		case field.ErrorTypeInvalid:
			msg = fmt.Sprintf("%s (got %s)", e.Detail, quoteValue(e.BadValue))
		case field.ErrorTypeNotSupported:
			msg = fmt.Sprintf("must be one of %s (got %s)", strings.TrimPrefix(e.Detail, "supported values: "), quoteValue(e.BadValue))
		case field.ErrorTypeTooLong:
			msg = fmt.Sprintf("is too long: at most %d bytes", provenance.MaxValueLength)
		default:
			if msg == "" {
				msg = e.ErrorBody()
			}
		}
		out = append(out, FieldError{Flag: FlagFor(key), Key: key, Message: msg})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func quoteValue(v interface{}) string {
	s := fmt.Sprint(v)
	if len(s) > 80 {
		return fmt.Sprintf("%q...", s[:80])
	}
	return fmt.Sprintf("%q", s)
}

// Stamp reads a stream of YAML documents from in (the output of `kustomize build` or
// `helm template`), writes the provenance annotations of opts.Provenance into every
// object and, when opts.Key is set, signs each object (kubetrail.io/signature): an
// in-toto statement binding its identity, content digest (of the object as
// opts.Resolve returns it, or of the manifest), provenance, audience and expiry. It writes the stream to out, with
// nothing else changed. It validates everything before writing anything: on error,
// out receives nothing.
//
// Existing kubetrail.io/ provenance annotations with other values are replaced; the
// admission annotations (admitted-by, admitted-at, digest, verified), which only the
// webhook may write, are removed with a warning, as is a signature the new values
// would invalidate when no key is given. Empty documents pass through; a document
// that is not an object with apiVersion, kind and metadata.name is an error naming it.
func Stamp(in io.Reader, out io.Writer, opts Options) error {
	s, err := newStamper(opts)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(in)
	if err != nil {
		return s.prefix(fmt.Errorf("reading the manifests: %w", err))
	}
	result, err := s.stream(string(data))
	if err != nil {
		return s.prefix(err)
	}
	_, err = io.WriteString(out, result)
	return err
}

type stamper struct {
	opts    Options
	ann     []kv // the annotations to write, in provenance.ProvenanceKeys order
	expires time.Time
	warn    io.Writer
	objects int
	// noNamespace lists the signed objects without a namespace, for one warning.
	noNamespace []string
}

func newStamper(opts Options) (*stamper, error) {
	if err := ValidateProvenance(opts.Provenance); err != nil {
		return nil, err
	}
	if opts.Key != nil && len(opts.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("the signing key is %d bytes, not an ed25519 private key", len(opts.Key))
	}
	if opts.Key != nil && strings.TrimSpace(opts.Audience) == "" {
		return nil, errors.New("--audience: required with --key: name the cluster the objects are for, as its TracePolicy's spec.signing.audience does (e.g. --audience prod-eu-1)")
	}
	if opts.Expires < 0 {
		return nil, fmt.Errorf("--expires: must be a positive duration (got %s)", opts.Expires)
	}
	if opts.Expires == 0 {
		opts.Expires = DefaultExpires
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &stamper{opts: opts, warn: opts.Warnings, expires: opts.Now().Add(opts.Expires)}
	if s.warn == nil {
		s.warn = io.Discard
	}
	want := opts.Provenance.Annotations()
	for _, k := range provenance.ProvenanceKeys {
		if v, ok := want[k]; ok {
			s.ann = append(s.ann, kv{k, v})
		}
	}
	return s, nil
}

func (s *stamper) prefix(err error) error {
	if s.opts.InputName == "" {
		return err
	}
	return fmt.Errorf("%s: %w", s.opts.InputName, err)
}

func (s *stamper) warnf(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	if s.opts.InputName != "" {
		msg = s.opts.InputName + ": " + msg
	}
	fmt.Fprintf(s.warn, "warning: %s\n", msg)
}

func (s *stamper) stream(data string) (string, error) {
	lines := splitLines(data)
	eol := "\n"
	for _, l := range lines {
		if l.eol != "" {
			eol = l.eol
			break
		}
	}
	var b strings.Builder
	num := 0
	for _, ch := range splitChunks(lines) {
		text := joinLines(ch.lines)
		docs, err := decodeAll(text)
		if err != nil {
			return "", fmt.Errorf("document %d: %s", num+1, renumber(err.Error(), ch.first))
		}
		if len(docs) == 0 { // comments only
			b.WriteString(text)
			continue
		}
		num++
		if len(docs) > 1 {
			return "", fmt.Errorf("document %d (line %d): holds %d YAML documents; separate them with ---", num, ch.first+1, len(docs))
		}
		out, err := s.document(ch, eol, docs[0], num)
		if err != nil {
			return "", err
		}
		b.WriteString(out)
	}
	if s.objects == 0 {
		s.warnf("the input holds no Kubernetes objects: nothing was stamped")
	}
	if n := len(s.noNamespace); n > 0 {
		list := s.noNamespace
		if n > 3 {
			list = append(list[:3:3], fmt.Sprintf("and %d more", n-3))
		}
		what := fmt.Sprintf("%d signed objects have", n)
		if n == 1 {
			what = "1 signed object has"
		}
		s.warnf("%s no metadata.namespace (%s): a signature names the namespace, so these will not verify once kubectl applies them into one; set metadata.namespace or pass --namespace (-n)",
			what, strings.Join(list, ", "))
	}
	return b.String(), nil
}

// decodeAll parses every YAML document of text.
func decodeAll(text string) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, fmt.Errorf("yaml: cannot parse the document: %v", r)
		}
	}()
	dec := yaml.NewDecoder(strings.NewReader(text))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

// decodeValue decodes n into a generic value, turning a parser panic into an error.
func decodeValue(n *yaml.Node, v interface{}) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot decode the document: %v", r)
		}
	}()
	return n.Decode(v)
}

// document stamps one document.
func (s *stamper) document(ch chunk, eol string, doc *yaml.Node, num int) (string, error) {
	text := joinLines(ch.lines)
	if len(doc.Content) == 0 {
		return text, nil
	}
	root := doc.Content[0]
	where := fmt.Sprintf("document %d (line %d)", num, ch.first+root.Line)
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return text, nil // an empty document, as helm template writes for an empty template
	}
	if root.Kind != yaml.MappingNode {
		return "", fmt.Errorf("%s: not a Kubernetes object: want a mapping with apiVersion, kind and metadata", where)
	}
	var obj map[string]interface{}
	if err := decodeValue(root, &obj); err != nil {
		return "", fmt.Errorf("%s: %s", where, renumber(err.Error(), ch.first))
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]interface{})
	name, _ := meta["name"].(string)
	namespace, _ := meta["namespace"].(string)
	if kind == "" {
		return "", fmt.Errorf("%s: not a Kubernetes object: kind is missing", where)
	}
	where = fmt.Sprintf("document %d (%s, line %d)", num, kind, ch.first+root.Line)
	switch {
	case kind == "List" || strings.HasSuffix(kind, "List") && obj["items"] != nil:
		return "", fmt.Errorf("%s: %s is not supported: write its items as separate documents", where, kind)
	case apiVersion == "":
		return "", fmt.Errorf("%s: apiVersion is missing", where)
	case name == "":
		return "", fmt.Errorf("%s: metadata.name is missing (stamp needs the name the object is signed and traced by; generateName is not enough)", where)
	}
	id := kind + " " + name
	if namespace != "" {
		id = kind + " " + namespace + "/" + name
	}
	where = fmt.Sprintf("document %d (%s, line %d)", num, id, ch.first+root.Line)
	s.objects++

	var existing map[string]interface{}
	switch a := meta["annotations"].(type) {
	case nil:
	case map[string]interface{}:
		existing = a
	default:
		return "", fmt.Errorf("%s: metadata.annotations must be a mapping of strings", where)
	}

	// What to remove and add.
	remove := map[string]bool{}
	var add []kv
	for _, k := range provenance.AdmissionKeys {
		if _, ok := existing[k]; ok {
			remove[k] = true
			s.warnf("%s: removed %s: only the kubetrail admission webhook writes it", where, k)
		}
	}
	for _, a := range s.ann {
		old, ok := existing[a.key]
		if v, isString := old.(string); ok && isString && v == a.value {
			continue // already stamped with this value
		}
		if ok {
			remove[a.key] = true
		}
		add = append(add, a)
	}
	final := map[string]interface{}{} // the annotations after stamping
	for k, v := range existing {
		if !remove[k] {
			final[k] = v
		}
	}
	for _, a := range add {
		final[a.key] = a.value
	}
	finalStrings := map[string]string{}
	for k, v := range final {
		if str, ok := v.(string); ok {
			finalStrings[k] = str
		} else if provenance.IsKubetrailKey(k) {
			return "", fmt.Errorf("%s: metadata.annotations[%s] must be a string: quote the value", where, k)
		}
	}
	if errs := provenance.Validate(finalStrings, field.NewPath("metadata", "annotations")); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return "", fmt.Errorf("%s: %s", where, strings.Join(msgs, "; "))
	}

	// The signature.
	oldSig, hasSig := finalStrings[provenance.SignatureKey]
	if s.opts.Key == nil {
		if hasSig && !maps.Equal(provenance.SignedValues(stringsOf(existing)), provenance.SignedValues(finalStrings)) {
			remove[provenance.SignatureKey] = true
			delete(final, provenance.SignatureKey)
			s.warnf("%s: removed %s: it was made for the provenance this stamp replaced; give a key to sign again", where, provenance.SignatureKey)
		}
	} else {
		signed := withAnnotations(obj, final)
		if namespace == "" && !clusterScoped(digestGroup(apiVersion), kind) {
			if s.opts.Namespace != "" {
				// The apiserver fills the namespace in before the webhook hashes it.
				meta := maps.Clone(signed["metadata"].(map[string]interface{}))
				meta["namespace"] = s.opts.Namespace
				signed["metadata"] = meta
			} else {
				s.noNamespace = append(s.noNamespace, fmt.Sprintf("document %d: %s", num, id))
			}
		}
		if kind == "Secret" {
			s.warnf("%s: a signature binds a Secret's key names, not its values (only the manager holds the key it hashes them with)", where)
		}
		admitted := signed
		if s.opts.Resolve != nil {
			// Without the signature: the dry run must see what kubectl apply sends
			// minus it (it is not content), and an old one must not be judged.
			dry := withAnnotations(signed, without(signed, provenance.SignatureKey))
			got, err := s.opts.Resolve(dry)
			if err != nil {
				return "", fmt.Errorf("%s: server-side dry run: %w", where, err)
			}
			admitted = got
		}
		st := signing.StatementOf(admitted)
		if st.Digest == "" {
			return "", fmt.Errorf("%s: the object's content digest cannot be computed (a value is not JSON)", where)
		}
		// The identity is the manifest's (a dry run does not rename), the provenance
		// what this stamp writes.
		st.Provenance = signing.StatementOf(signed).Provenance
		meta2, _ := signed["metadata"].(map[string]interface{})
		st.Namespace, _ = meta2["namespace"].(string)
		st.Audience = s.opts.Audience
		st.SignedAt = s.opts.Now()
		st.Expires = s.expires
		sig, err := signing.Sign(context.Background(), st, s.opts.Key)
		if err != nil {
			return "", fmt.Errorf("%s: signing: %w", where, err)
		}
		if !hasSig || oldSig != sig {
			if hasSig {
				remove[provenance.SignatureKey] = true
			}
			add = append(add, kv{provenance.SignatureKey, sig})
			final[provenance.SignatureKey] = sig
		}
	}
	if len(add) == 0 && len(remove) == 0 {
		return text, nil
	}

	want := withAnnotations(obj, final)
	out, reason := textEdit(ch, eol, root, remove, add)
	if reason == "" {
		if same(out, want) {
			return out, nil
		}
		reason = "the document's layout is unusual"
	}
	out, err := reencode(ch, eol, doc, remove, add)
	if err != nil || !same(out, want) {
		return "", fmt.Errorf("%s: cannot add the annotations without changing anything else (%s)", where, reason)
	}
	s.warnf("%s: reformatted the document to add the annotations (%s)", where, reason)
	return out, nil
}

// withAnnotations returns a copy of obj whose metadata.annotations is ann.
func withAnnotations(obj map[string]interface{}, ann map[string]interface{}) map[string]interface{} {
	out := maps.Clone(obj)
	meta := maps.Clone(obj["metadata"].(map[string]interface{}))
	if len(ann) == 0 {
		delete(meta, "annotations")
	} else {
		meta["annotations"] = ann
	}
	out["metadata"] = meta
	return out
}

// without returns obj's annotations without key, as interface values.
func without(obj map[string]interface{}, key string) map[string]interface{} {
	meta, _ := obj["metadata"].(map[string]interface{})
	ann, _ := meta["annotations"].(map[string]interface{})
	out := maps.Clone(ann)
	delete(out, key)
	return out
}

// digestGroup is the API group of an apiVersion ("" for "v1").
func digestGroup(apiVersion string) string {
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

func stringsOf(m map[string]interface{}) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// same reports whether text is one YAML document holding exactly want (an empty or
// null metadata.annotations counting as none).
func same(text string, want map[string]interface{}) bool {
	docs, err := decodeAll(text)
	if err != nil || len(docs) != 1 || len(docs[0].Content) != 1 {
		return false
	}
	var got map[string]interface{}
	if err := decodeValue(docs[0].Content[0], &got); err != nil {
		return false
	}
	normalize := func(obj map[string]interface{}) {
		if meta, ok := obj["metadata"].(map[string]interface{}); ok {
			switch a := meta["annotations"].(type) {
			case nil:
				delete(meta, "annotations")
			case map[string]interface{}:
				if len(a) == 0 {
					delete(meta, "annotations")
				}
			}
		}
	}
	normalize(got)
	return reflect.DeepEqual(got, want)
}

// reencode edits the document's node tree and encodes it again: the fallback when the
// text cannot be edited in place. Comments survive; layout may not.
func reencode(ch chunk, eol string, doc *yaml.Node, remove map[string]bool, add []kv) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	root := doc.Content[0]
	_, md := mapLookup(root, "metadata")
	if md == nil || md.Kind != yaml.MappingNode {
		return "", errors.New("metadata is not a mapping")
	}
	_, ann := mapLookup(md, "annotations")
	switch {
	case ann == nil:
		ann = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: md.Style & yaml.FlowStyle}
		md.Content = append(md.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "annotations"}, ann)
	case ann.Kind == yaml.ScalarNode && ann.Tag == "!!null":
		*ann = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: md.Style & yaml.FlowStyle}
	case ann.Kind != yaml.MappingNode:
		return "", errors.New("metadata.annotations is not a mapping")
	}
	var content []*yaml.Node
	for i := 0; i+1 < len(ann.Content); i += 2 {
		if !remove[ann.Content[i].Value] {
			content = append(content, ann.Content[i], ann.Content[i+1])
		}
	}
	for _, a := range add {
		style := yaml.Style(0)
		if !plainOK(a.value) || isFlow(ann) {
			style = yaml.DoubleQuotedStyle
		}
		content = append(content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: a.key},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: a.value, Style: style})
	}
	ann.Content = content

	var b strings.Builder
	if len(ch.lines) > 0 && isDocMarker(ch.lines[0].text) {
		if rest := strings.TrimSpace(ch.lines[0].text[3:]); rest == "" || strings.HasPrefix(rest, "#") {
			b.WriteString(ch.lines[0].text)
		} else {
			b.WriteString("---")
		}
		b.WriteString(eol)
	}
	var enc strings.Builder
	e := yaml.NewEncoder(&enc)
	e.SetIndent(2)
	if err := e.Encode(doc); err != nil {
		return "", err
	}
	if err := e.Close(); err != nil {
		return "", err
	}
	body := enc.String()
	if eol != "\n" {
		body = strings.ReplaceAll(body, "\n", eol)
	}
	b.WriteString(body)
	return b.String(), nil
}

// clusterScoped lists the built-in kinds (and kubetrail's own) that have no namespace.
// Custom resources not listed here are taken to be namespaced.
func clusterScoped(group, kind string) bool {
	switch group {
	case "":
		switch kind {
		case "Namespace", "Node", "PersistentVolume", "ComponentStatus":
			return true
		}
	case "rbac.authorization.k8s.io":
		return kind == "ClusterRole" || kind == "ClusterRoleBinding"
	case "apiextensions.k8s.io":
		return kind == "CustomResourceDefinition"
	case "storage.k8s.io":
		switch kind {
		case "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "VolumeAttributesClass":
			return true
		}
	case "scheduling.k8s.io":
		return kind == "PriorityClass"
	case "node.k8s.io":
		return kind == "RuntimeClass"
	case "apiregistration.k8s.io":
		return kind == "APIService"
	case "admissionregistration.k8s.io":
		return true // webhook configurations and admission policies
	case "networking.k8s.io":
		switch kind {
		case "IngressClass", "IPAddress", "ServiceCIDR":
			return true
		}
	case "certificates.k8s.io":
		return kind == "CertificateSigningRequest" || kind == "ClusterTrustBundle"
	case "flowcontrol.apiserver.k8s.io":
		return true
	case "resource.k8s.io":
		return kind == "DeviceClass" || kind == "ResourceSlice"
	case "kubetrail.io":
		return kind == "TracePolicy"
	}
	return false
}
