package secretscan

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/detect/codec"
)

// ruleSets hands out gitleaks detectors, without decoding passes, that hold only the
// rules gitleaks would run on a given text.
//
// For each text gitleaks finds which rule keywords occur in it (an Aho-Corasick
// search of the lowercased text) and then walks all of its 222 default rules to run
// those with a keyword found, or with no keywords at all. That walk was most of the
// cost of scanning a pod template, where few keywords ever occur. Here the keywords
// are found the same way (the same library, over the same keyword set) and mapped to
// their rules through an index, and the text is scanned by a detector made of just
// those rules: gitleaks runs the same rules on it, so it finds the same things.
// Detectors are kept per rule set.
//
// With decoding, the keywords are looked for in the text at every decoding depth
// (prepare).
type ruleSets struct {
	cfg      config.Config
	trie     *ahocorasick.Trie
	keywords []string            // by trie pattern number
	rulesOf  map[string][]string // keyword -> IDs of the rules that have it
	always   []string            // IDs of the rules without keywords
	// alwaysKey names the set always.
	alwaysKey string

	mu        sync.Mutex
	detectors map[string]*detect.Detector
	prepared  map[string]preparedRules
}

// maxRuleSets bounds the detectors kept; the cache starts over when full.
const maxRuleSets = 256

func newRuleSets(cfg config.Config) *ruleSets {
	s := &ruleSets{cfg: cfg, rulesOf: map[string][]string{}, detectors: map[string]*detect.Detector{}, prepared: map[string]preparedRules{}}
	for k := range cfg.Keywords {
		s.keywords = append(s.keywords, k)
	}
	slices.Sort(s.keywords)
	s.trie = ahocorasick.NewTrieBuilder().AddStrings(s.keywords).Build()
	for _, id := range sortedRuleIDs(cfg) {
		r := cfg.Rules[id]
		if len(r.Keywords) == 0 {
			s.always = append(s.always, id)
		}
		for _, k := range r.Keywords {
			// gitleaks looks rules up by strings.ToLower(keyword).
			k = strings.ToLower(k)
			if !slices.Contains(s.rulesOf[k], id) {
				s.rulesOf[k] = append(s.rulesOf[k], id)
			}
		}
	}
	s.alwaysKey = strings.Join(s.always, "\x00")
	return s
}

func sortedRuleIDs(cfg config.Config) []string {
	ids := make([]string, 0, len(cfg.Rules))
	for id := range cfg.Rules {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// detectorFor returns a detector, without decoding, with the rules gitleaks would run
// on text.
func (s *ruleSets) detectorFor(text string) *detect.Detector {
	key, ids := s.rulesFor(text)
	return s.detector(key, ids, 0)
}

// rulesFor returns the IDs of the rules gitleaks would run on any of texts (the rules
// without keywords, and those with a keyword in one of them), and a key naming that
// set. Most values hold no keyword: they get the shared set of rules without keywords,
// with nothing allocated.
func (s *ruleSets) rulesFor(texts ...string) (string, []string) {
	var found map[int64]bool
	var ids []string
	var buf []byte
	for _, text := range texts {
		// As gitleaks: the keywords found in the lowercased text.
		buf = lowerInto(buf[:0], text)
		s.trie.Walk(buf, func(_, _, pattern int64) bool {
			if found == nil {
				found = map[int64]bool{}
				ids = append(ids, s.always...)
			}
			if !found[pattern] {
				found[pattern] = true
				ids = append(ids, s.rulesOf[s.keywords[pattern]]...)
			}
			return true
		})
	}
	if found == nil {
		return s.alwaysKey, s.always
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return strings.Join(ids, "\x00"), ids
}

// lowerInto appends strings.ToLower(s) to buf, without allocating for ASCII text.
func lowerInto(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return append(buf, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// prepare finds the rules p needs and whether it needs gitleaks' decoding passes. A
// decoding pass can reveal keywords the text did not show, so the rules of a piece
// with encoded segments are those of its text at every decoding depth; gitleaks runs
// a rule at a depth only when its keyword shows there, so these are the same rules or
// more.
//
// What short pieces need is remembered (at most maxPrepared of them): pod templates
// repeat the same images, paths and defaults (terminationMessagePath,
// imagePullPolicy) in every request, and looking for encoded segments in them was
// most of the cost of scanning one.
func (s *ruleSets) prepare(p *piece) {
	if p.size() > maxPreparedSize {
		s.prepareUncached(p)
		return
	}
	key := p.text + "\x00" + p.context
	s.mu.Lock()
	r, ok := s.prepared[key]
	s.mu.Unlock()
	if ok {
		p.rules, p.ids, p.decode = r.rules, r.ids, r.decode
		return
	}
	s.prepareUncached(p)
	s.mu.Lock()
	if len(s.prepared) >= maxPrepared {
		s.prepared = map[string]preparedRules{}
	}
	s.prepared[key] = preparedRules{rules: p.rules, ids: p.ids, decode: p.decode}
	s.mu.Unlock()
}

// preparedRules is what prepare found for a piece.
type preparedRules struct {
	rules  string
	ids    []string
	decode bool
}

const (
	maxPrepared     = 4096
	maxPreparedSize = 512
)

func (s *ruleSets) prepareUncached(p *piece) {
	if !mayHoldEncoded(p.text) && !mayHoldEncoded(p.context) {
		p.rules, p.ids = s.rulesFor(p.text, p.context)
		return
	}
	var b strings.Builder
	writePiece(&b, *p)
	raw := b.String()
	texts := []string{raw}
	decoder := codec.NewDecoder()
	var segments []*codec.EncodedSegment
	for depth := 0; depth < maxDecodeDepth; depth++ {
		raw, segments = decoder.Decode(raw, segments)
		if len(segments) == 0 {
			break
		}
		p.decode = true
		texts = append(texts, raw)
	}
	p.rules, p.ids = s.rulesFor(texts...)
}

// detector returns a detector of the rules ids (named by key), with depth decoding
// passes.
func (s *ruleSets) detector(key string, ids []string, depth int) *detect.Detector {
	key = strconv.Itoa(depth) + "\x00" + key
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.detectors[key]; ok {
		return d
	}
	cfg := s.cfg
	cfg.Rules = make(map[string]config.Rule, len(ids))
	cfg.Keywords = map[string]struct{}{}
	cfg.OrderedRules = nil
	for _, id := range ids {
		r := s.cfg.Rules[id]
		cfg.Rules[id] = r
		cfg.OrderedRules = append(cfg.OrderedRules, id)
		for _, k := range r.Keywords {
			cfg.Keywords[strings.ToLower(k)] = struct{}{}
		}
	}
	d := detect.NewDetector(cfg)
	d.MaxDecodeDepth = depth
	if len(s.detectors) >= maxRuleSets {
		s.detectors = map[string]*detect.Detector{}
	}
	s.detectors[key] = d
	return d
}
