package secretscan

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/detect/codec"

	"github.com/kubetrail/kubetrail/internal/workload"
)

// MaxValueSize is the longest value scanned. Longer values (big embedded files in a
// ConfigMap) are skipped: running two hundred regular expressions over them, twice,
// inside an admission request would risk the webhook's timeout, and such values are
// rarely hand-written credentials.
const MaxValueSize = 64 << 10

// maxDecodeDepth matches gitleaks' CLI default (--max-decode-depth 5), so that a
// base64- or percent-encoded credential is found here just as gitleaks finds it.
const maxDecodeDepth = 5

// Finding is one credential found in an object. It never holds the credential.
type Finding struct {
	// Location is the field path, e.g. spec.template.spec.containers[app].env[DB_PASSWORD],
	// spec.template.spec.containers[app].args[2] or data[credentials.json].
	Location string
	// Container is the container's name, when the value is in a pod spec.
	Container string
	// Key is the env var name or ConfigMap key, when the value has one.
	Key string
	// RuleID is the gitleaks rule that matched, e.g. "aws-access-token".
	RuleID string
	// Description is the gitleaks rule's description.
	Description string
	// Fingerprint is Redact of the matched credential, so the same credential has
	// the same fingerprint wherever it appears.
	Fingerprint string
}

// Redact fingerprints a value for reports: "sha256:" and the first 12 hex characters
// of its SHA-256. Twelve hex characters tell credentials apart without being usable
// as one; note that a short, guessable password can still be found by hashing
// guesses, which is one more reason to rotate anything Scan reports.
func Redact(value string) string {
	sum := sha256.Sum256([]byte(value))
	return "sha256:" + hex.EncodeToString(sum[:])[:12]
}

var (
	detectorOnce sync.Once
	// detector has all the rules and decodes encoded segments (maxDecodeDepth).
	detector *detect.Detector
	// plainRules scans values in which gitleaks' decoder finds nothing to decode.
	plainRules  *ruleSets
	detectorErr error
)

// Load loads gitleaks' default rules, once. Scan calls it; call it at startup to fail
// fast instead, since Scan cannot report that the rules did not load (it then finds
// nothing).
func Load() error {
	detectorOnce.Do(func() {
		if detector, detectorErr = newDetector(maxDecodeDepth); detectorErr == nil {
			plainRules = newRuleSets(detector.Config)
		}
	})
	return detectorErr
}

// newDetector does what detect.NewDetectorDefaultConfig does, but on a private viper
// instance: that function configures the process-wide viper, which kubetrail's own
// command-line configuration may be using.
func newDetector(decodeDepth int) (d *detect.Detector, err error) {
	defer func() {
		// gitleaks compiles its rules with MustCompile; a bad rule in a future version
		// must not take the webhook down.
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("loading gitleaks' default rules: %v", r)
		}
	}()
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return nil, fmt.Errorf("reading gitleaks' default rules: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("decoding gitleaks' default rules: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("compiling gitleaks' default rules: %w", err)
	}
	// Translate records the global viper's config file as the config path, and
	// gitleaks skips fragments at that path; ours have no path at all.
	cfg.Path = ""
	d = detect.NewDetector(cfg)
	d.MaxDecodeDepth = decodeDepth
	return d, nil
}

// target is one value to scan and where it sits.
type target struct {
	location  string
	container string
	key       string
	value     string
	// context is the value with its name in front, for rules that need a keyword;
	// "" when the value has no name.
	context string
}

// Scan returns the credentials found in obj (unstructured map of a Kubernetes object).
// Kinds other than workloads and ConfigMap return nil. Secrets are never scanned
// (their data is meant to be secret). Findings are sorted by Location, then RuleID.
func Scan(obj map[string]interface{}) []Finding {
	kind, _ := obj["kind"].(string)
	var targets []target
	switch {
	case kind == "Secret":
		return nil
	case kind == "ConfigMap":
		targets = configMapTargets(obj)
	case workload.IsWorkload(kind):
		targets = podSpecTargets(kind, workload.PodSpec(obj))
	default:
		return nil
	}
	if len(targets) == 0 || Load() != nil {
		return nil
	}
	// gitleaks looks for encoded segments (base64, hex, percent and unicode escapes)
	// with one regular expression over the whole text before each decoding pass, and
	// in BenchmarkAdmission that search cost almost as much as all the rules did.
	// Most values (paths, hosts, numbers, flags) hold no segment gitleaks' decoder
	// would decode: they are scanned without decoding passes, which find nothing in
	// them, and the others with. Each value gets the findings it would get from one
	// scan of everything with decoding on (TestSplitScanMatchesDecodingScan).
	var plain, encoded []target
	for _, t := range targets {
		if hasEncodedSegment(t) {
			encoded = append(encoded, t)
		} else {
			plain = append(plain, t)
		}
	}
	return unique(append(scanTargets(plain, plainRules.detectorFor), scanTargets(encoded, always(detector))...))
}

// hasEncodedSegment reports whether gitleaks' decoder finds a segment to decode in
// t's lines of the scanned text. Segments never span the blank line between two
// values, so a value's segments are the same alone as amid the others.
func hasEncodedSegment(t target) bool {
	if !mayHoldEncoded(t.value) && !mayHoldEncoded(t.context) {
		return false
	}
	var b strings.Builder
	writeTarget(&b, t)
	_, segments := codec.NewDecoder().Decode(b.String(), nil)
	return len(segments) > 0
}

func always(d *detect.Detector) func(string) *detect.Detector {
	return func(string) *detect.Detector { return d }
}

// unique keeps one finding per (location, rule), sorted by location and rule: the
// value is scanned twice, and an env var may be listed twice under one name. The
// fingerprint only breaks ties so that which duplicate survives does not depend on
// map order.
func unique(findings []Finding) []Finding {
	slices.SortFunc(findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Location, b.Location), cmp.Compare(a.RuleID, b.RuleID), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	return slices.CompactFunc(findings, func(a, b Finding) bool {
		return a.Location == b.Location && a.RuleID == b.RuleID
	})
}

// scanTargets runs the rules once over all values, each alone and with its name, one
// per line block. One pass instead of one per value matters: the webhook scans every
// pod template it admits, and gitleaks' fixed cost per call dominated (measured in
// BenchmarkAdmission: about 190 µs for 12 env values with a call per value and name).
// A finding is mapped back to its value by line; blank lines keep values apart so
// that no rule matches across two of them.
func scanTargets(targets []target, detectorFor func(text string) *detect.Detector) []Finding {
	if len(targets) == 0 {
		return nil
	}
	type span struct{ first, last int }
	spans := make([]span, len(targets))
	var b strings.Builder
	line := 0
	for i, t := range targets {
		spans[i].first = line
		line += writeTarget(&b, t)
		spans[i].last = line - 1
		b.WriteString("\n")
		line++
	}
	text := b.String()
	var out []Finding
	for _, m := range detectorFor(text).DetectString(text) {
		i := sort.Search(len(spans), func(i int) bool { return spans[i].last >= m.StartLine })
		if i == len(spans) || m.StartLine < spans[i].first {
			continue // on a separator line: cannot happen for a real match
		}
		t := targets[i]
		secret := m.Secret
		if secret == "" {
			secret = t.value
		}
		out = append(out, Finding{
			Location:    t.location,
			Container:   t.container,
			Key:         t.key,
			RuleID:      m.RuleID,
			Description: m.Description,
			Fingerprint: Redact(secret),
		})
	}
	return out
}

// writeTarget writes t's value, and its value with its name, a line each, and
// returns the number of lines written.
func writeTarget(b *strings.Builder, t target) int {
	lines := 0
	for _, text := range []string{t.value, t.context} {
		if text == "" {
			continue
		}
		b.WriteString(text)
		b.WriteString("\n")
		lines += strings.Count(text, "\n") + 1
	}
	return lines
}

// mayHoldEncoded reports whether gitleaks' decoder could find an encoded segment in s,
// erring on the side of yes. Its segments (detect/codec/encodings.go) are
//
//	percent  %[0-9A-Fa-f]{2}(?:.*%[0-9A-Fa-f]{2})?
//	unicode  (?:U\+[a-fA-F0-9]{4}(?:\s|$))+ or (?i)(?:\\{1,2}u[a-fA-F0-9]{4})+
//	hex      [0-9A-Fa-f]{32,}
//	base64   [\w\/+-]{16,}={0,2}
//
// and every one of them needs, in ASCII, a "%" before two hex digits, a "U+", a
// backslash before "u" or "U", or a run of 16 characters from [A-Za-z0-9_/+-] (which
// any 32 hex digits are too).
func mayHoldEncoded(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '/' || c == '+' || c == '-':
			if run++; run >= 16 {
				return true
			}
			if c == '+' && i > 0 && s[i-1] == 'U' {
				return true
			}
			continue
		case c == '%':
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				return true
			}
		case c == '\\':
			if i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
				return true
			}
		}
		run = 0
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// podSpecTargets lists the literal env values, args and commands of every container.
func podSpecTargets(kind string, spec map[string]interface{}) []target {
	if spec == nil {
		return nil
	}
	base := strings.Join(workload.PodSpecPath(kind), ".")
	var out []target
	for _, c := range workload.Containers(spec) {
		name := c.Name()
		prefix := base + "." + c.Group + "[" + name + "]"
		env, _ := c.Fields["env"].([]interface{})
		for i, item := range env {
			e, ok := item.(map[string]interface{})
			if !ok {
				continue
			}
			// valueFrom points at a Secret, ConfigMap or field: not a literal.
			if _, ok := e["valueFrom"]; ok {
				continue
			}
			value, ok := e["value"].(string)
			if !ok || !scannable(value) {
				continue
			}
			envName, _ := e["name"].(string)
			t := target{container: name, key: envName, value: value}
			if envName == "" {
				t.location = prefix + ".env[#" + strconv.Itoa(i) + "]"
			} else {
				t.location = prefix + ".env[" + envName + "]"
				t.context = envName + "=" + value
			}
			out = append(out, t)
		}
		for _, field := range []string{"command", "args"} {
			list, _ := c.Fields[field].([]interface{})
			for i, item := range list {
				value, ok := item.(string)
				if !ok || !scannable(value) {
					continue
				}
				t := target{location: prefix + "." + field + "[" + strconv.Itoa(i) + "]", container: name, value: value}
				// `--token abc` is `--token=abc` to a program; give the rules that keyword.
				if i > 0 {
					if flag, ok := list[i-1].(string); ok && strings.HasPrefix(flag, "-") && !strings.Contains(flag, "=") && len(flag) < 256 {
						t.context = flag + "=" + value
					}
				}
				out = append(out, t)
			}
		}
	}
	return out
}

// configMapTargets lists the data values of a ConfigMap. binaryData is skipped: it is
// base64 of files (certificates, archives) the text rules are not made for.
func configMapTargets(obj map[string]interface{}) []target {
	data, _ := obj["data"].(map[string]interface{})
	var out []target
	for key, v := range data {
		value, ok := v.(string)
		if !ok || !scannable(value) {
			continue
		}
		out = append(out, target{location: "data[" + key + "]", key: key, value: value, context: key + ": " + value})
	}
	return out
}

// scannable skips empty values and values over MaxValueSize.
func scannable(value string) bool {
	return value != "" && len(value) <= MaxValueSize
}
