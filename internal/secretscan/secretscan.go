package secretscan

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
)

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

// Scan returns the credentials found in obj (unstructured map of a Kubernetes object),
// scanning everything however long it takes: for tests and offline tools. Request
// paths use ScanWithin, which is bounded.
func Scan(obj map[string]interface{}) []Finding {
	return ScanWithin(context.Background(), obj, nil, Unlimited).Findings
}

// ScanWithin returns the credentials found in obj (unstructured map of a Kubernetes
// object) within budget b and ctx's deadline. Kinds other than workloads and
// ConfigMap are not scanned; Secrets never are (their data is meant to be secret).
// When old is not nil (an update), only values that are not at the same place in old
// are scanned. A scan that stops early (budget, deadline, ctx canceled) says so in
// Result.Incomplete, with what it found until then.
func ScanWithin(ctx context.Context, obj, old map[string]interface{}, b Budget) Result {
	targets, ok := targetsOf(obj)
	if !ok {
		return Result{}
	}
	if old != nil {
		if before, ok := targetsOf(old); ok {
			targets = changedOnly(targets, before)
		}
	}
	if len(targets) == 0 {
		return Result{}
	}
	if Load() != nil {
		return Result{Incomplete: &Incomplete{Limit: LimitRules, Location: targets[0].location, TotalValues: len(targets), Budget: b}}
	}
	if b.MaxDuration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.MaxDuration)
		defer cancel()
	}
	s := scan{ctx: ctx, budget: b, targets: targets}
	s.run()
	return s.result()
}

// piece is one chunk of a target's value, as handed to the rules.
type piece struct {
	target int
	// text is the chunk; context is the value's name and the head of its first
	// chunk, "" for later chunks and values without a name.
	text, context string
	// cutStart and cutEnd are true when the chunk starts or ends inside a token (a
	// line longer than the overlap): a match touching such an edge may be a piece of
	// a longer token, which the neighbouring chunk holds whole.
	cutStart, cutEnd bool
	// rules is the key of the rule set gitleaks would run on it (ruleSets), decode
	// whether it holds a segment gitleaks' decoder decodes.
	rules  string
	ids    []string
	decode bool
}

func (p piece) size() int { return len(p.text) + len(p.context) }

type scan struct {
	ctx     context.Context
	budget  Budget
	targets []target

	findings   []Finding
	incomplete *Incomplete
	values     int // targets handed to the rules
	bytes      int // bytes scanned
	totalBytes int
}

func (s *scan) stop(limit Limit, location string) {
	if s.incomplete == nil {
		s.incomplete = &Incomplete{Limit: limit, Location: location, Budget: s.budget}
	}
}

func (s *scan) ctxLimit() Limit {
	if errors.Is(s.ctx.Err(), context.DeadlineExceeded) {
		return LimitDeadline
	}
	return LimitCanceled
}

func (s *scan) result() Result {
	r := Result{Findings: unique(s.findings), Incomplete: s.incomplete, ScannedValues: s.values, ScannedBytes: s.bytes}
	if r.Incomplete != nil {
		r.Incomplete.ScannedBytes, r.Incomplete.TotalBytes = s.bytes, s.totalBytes
		r.Incomplete.ScannedValues, r.Incomplete.TotalValues = s.values, len(s.targets)
	}
	return r
}

// run chunks the values, finds for each chunk the rules gitleaks would run on it,
// and scans the chunks that need the same rules together, a batch of at most
// ChunkSize bytes per call into gitleaks.
//
// Per chunk, not per object: gitleaks runs a rule over a whole text when one of its
// keywords occurs anywhere in it, and some rules cost about 10 µs per byte on random
// text, so one keyword in one value of a 1 MB ConfigMap cost seconds over all of it
// (M6). Here a rule runs on the chunks whose text has its keyword, as gitleaks would
// run it on each value alone.
func (s *scan) run() {
	pieces := make([]piece, 0, len(s.targets))
	budgetBytes := 0
	whole := []span{{}}
	for i, t := range s.targets {
		spans := whole
		if len(t.value) > ChunkSize {
			spans = chunks(t.value, ChunkSize, ChunkOverlap)
		} else {
			whole[0] = span{0, len(t.value)}
		}
		for j, c := range spans {
			p := piece{target: i, text: t.value[c.start:c.end],
				cutStart: c.start > 0 && !isBreak(t.value[c.start-1]),
				cutEnd:   c.end < len(t.value) && !isBreak(t.value[c.end-1])}
			if j == 0 && t.name != "" {
				p.context = t.name + t.sep + contextHead(p.text)
			}
			s.totalBytes += p.size()
			if s.incomplete != nil {
				continue
			}
			switch {
			case s.budget.MaxValues > 0 && i >= s.budget.MaxValues:
				s.stop(LimitValues, t.location)
			case s.budget.MaxBytes > 0 && budgetBytes+p.size() > s.budget.MaxBytes:
				s.stop(LimitBytes, t.location)
			default:
				budgetBytes += p.size()
				pieces = append(pieces, p)
			}
		}
	}
	// Trailing chunks of a target cut by the budget are not scanned either: a value
	// is scanned whole or not at all.
	if s.incomplete != nil {
		cut := s.incomplete.Location
		pieces = slices.DeleteFunc(pieces, func(p piece) bool { return s.targets[p.target].location == cut })
	}

	// The rules each piece needs.
	for i := range pieces {
		if i%64 == 0 && s.ctx.Err() != nil {
			s.stop(s.ctxLimit(), s.targets[pieces[i].target].location)
			return
		}
		plainRules.prepare(&pieces[i])
	}

	// Batches of pieces with the same rules, in order of first appearance.
	type group struct {
		rules  string
		ids    []string
		decode bool
		pieces []int
	}
	var groups []*group
	byKey := map[string]*group{}
	for i, p := range pieces {
		key := p.rules
		if p.decode {
			key = "decode\x00" + key
		}
		g, ok := byKey[key]
		if !ok {
			g = &group{rules: p.rules, ids: p.ids, decode: p.decode}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.pieces = append(g.pieces, i)
	}
	done := make([]bool, len(s.targets))
	for _, g := range groups {
		depth := 0
		if g.decode {
			depth = maxDecodeDepth
		}
		d := plainRules.detector(g.rules, g.ids, depth)
		for start := 0; start < len(g.pieces); {
			end, size := start, 0
			for end < len(g.pieces) && (end == start || size+pieces[g.pieces[end]].size() <= ChunkSize) {
				size += pieces[g.pieces[end]].size()
				end++
			}
			batch := make([]piece, 0, end-start)
			for _, i := range g.pieces[start:end] {
				batch = append(batch, pieces[i])
			}
			if s.ctx.Err() != nil {
				s.stop(s.ctxLimit(), s.targets[batch[0].target].location)
				return
			}
			found := s.scanBatch(d, batch)
			if s.ctx.Err() != nil {
				// gitleaks stops between rules when ctx ends and returns what it had:
				// this batch was not fully scanned.
				s.stop(s.ctxLimit(), s.targets[batch[0].target].location)
				return
			}
			s.findings = append(s.findings, found...)
			s.bytes += size
			for _, p := range batch {
				if !done[p.target] {
					done[p.target] = true
					s.values++
				}
			}
			start = end
		}
	}
}

// contextHead is the part of a value's first chunk scanned with its name in front:
// rules that need a keyword next to the value find it within the first lines, so a
// long multi-line value is not scanned twice. It is the chunk up to the end of the
// line that passes byte 512.
func contextHead(chunk string) string {
	const head = 512
	if len(chunk) <= head {
		return chunk
	}
	if i := strings.IndexByte(chunk[head:], '\n'); i >= 0 {
		return chunk[:head+i]
	}
	return chunk
}

// scanBatch runs d over the pieces, each alone and with its name, one per line block,
// and maps each match back to its piece by line. One call per batch instead of one
// per value matters: gitleaks' fixed cost per call dominated small objects (measured
// in BenchmarkAdmission: about 190 µs for 12 env values with a call per value and
// name). Blank lines keep values apart so that no rule matches across two of them.
func (s *scan) scanBatch(d *detect.Detector, batch []piece) []Finding {
	type lines struct{ first, last int }
	spans := make([]lines, len(batch))
	var b strings.Builder
	line := 0
	for i, p := range batch {
		spans[i].first = line
		line += writePiece(&b, p)
		spans[i].last = line - 1
		b.WriteString("\n")
		line++
	}
	var out []Finding
	for _, m := range d.DetectContext(s.ctx, detect.Fragment{Raw: b.String()}) {
		i := sort.Search(len(spans), func(i int) bool { return spans[i].last >= m.StartLine })
		if i == len(spans) || m.StartLine < spans[i].first {
			continue // on a separator line: cannot happen for a real match
		}
		p := batch[i]
		if p.cutEnd && strings.HasSuffix(p.text, m.Match) || p.cutStart && strings.HasPrefix(p.text, m.Match) {
			continue // maybe a piece of a token, found whole in the next or previous chunk
		}
		t := s.targets[p.target]
		secret := m.Secret
		if secret == "" {
			secret = p.text
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

// writePiece writes p's text, and its context, a line block each, and returns the
// number of lines written.
func writePiece(b *strings.Builder, p piece) int {
	lines := 0
	for _, text := range []string{p.text, p.context} {
		if text == "" {
			continue
		}
		b.WriteString(text)
		b.WriteString("\n")
		lines += strings.Count(text, "\n") + 1
	}
	return lines
}

// unique keeps one finding per (location, rule), sorted by location and rule: a value
// is scanned alone and with its name, a chunk overlaps the next, and an env var may be
// listed twice under one name. The fingerprint only breaks ties so that which
// duplicate survives does not depend on order.
func unique(findings []Finding) []Finding {
	slices.SortFunc(findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Location, b.Location), cmp.Compare(a.RuleID, b.RuleID), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	return slices.CompactFunc(findings, func(a, b Finding) bool {
		return a.Location == b.Location && a.RuleID == b.RuleID
	})
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
