package stamp

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// This file edits a document as text, so that everything Stamp does not mean to change
// (comments, key order, quoting, indentation, flow style, blank lines) stays byte for
// byte as it was. The YAML parser tells where the metadata and annotations mappings
// are (line and column of every node); the edits are whole lines added or removed at
// those places, plus, for flow-style mappings, text inserted just after the "{". Stamp
// checks every edited document by parsing it again, and falls back to re-encoding the
// document when the text edit does not give exactly the expected object.

// line is one line of the input: its text and its line break ("" on a last line
// without one). Line breaks are the ones the YAML scanner counts, so that line i here
// is the parser's line i+1.
type line struct {
	text string
	eol  string
}

func splitLines(s string) []line {
	var out []line
	start := 0
	for i := 0; i < len(s); {
		n := breakLen(s, i)
		if n == 0 {
			i++
			continue
		}
		out = append(out, line{text: s[start:i], eol: s[i : i+n]})
		i += n
		start = i
	}
	if start < len(s) {
		out = append(out, line{text: s[start:]})
	}
	return out
}

// breakLen is the length of the line break at s[i], or 0.
func breakLen(s string, i int) int {
	switch s[i] {
	case '\n':
		return 1
	case '\r':
		if i+1 < len(s) && s[i+1] == '\n' {
			return 2
		}
		return 1
	case 0xC2: // NEL
		if i+1 < len(s) && s[i+1] == 0x85 {
			return 2
		}
	case 0xE2: // LS, PS
		if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
			return 3
		}
	}
	return 0
}

func joinLines(lines []line) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
		b.WriteString(l.eol)
	}
	return b.String()
}

// isDocMarker reports whether a line starts a document ("---" at column 0 followed by
// blank or the end of the line). YAML forbids such a line inside any content, so
// splitting on it agrees with the parser.
func isDocMarker(t string) bool {
	return strings.HasPrefix(t, "---") && (len(t) == 3 || t[3] == ' ' || t[3] == '\t')
}

// chunk is the text of one document: from its "---" line (if any) to the line before
// the next one.
type chunk struct {
	lines []line
	first int // index of the chunk's first line in the stream, 0-based
}

func splitChunks(lines []line) []chunk {
	var out []chunk
	start := 0
	for i, l := range lines {
		if i == 0 || !isDocMarker(l.text) {
			continue
		}
		// Directives (%YAML, %TAG) belong to the document after them.
		end := i
		for end > start && strings.HasPrefix(lines[end-1].text, "%") {
			end--
		}
		out = append(out, chunk{lines: lines[start:end], first: start})
		start = end
	}
	if start < len(lines) {
		out = append(out, chunk{lines: lines[start:], first: start})
	}
	return out
}

// lineEdit replaces del bytes at byte offset off of a line's text with ins.
type lineEdit struct {
	off, del int
	ins      string
}

// editor collects edits to a chunk and renders the result.
type editor struct {
	lines []line
	eol   string
	del   map[int]bool
	ops   map[int][]lineEdit
	ins   map[int][]string // before line i (i == len(lines): at the end)
}

func newEditor(lines []line, eol string) *editor {
	return &editor{lines: lines, eol: eol, del: map[int]bool{}, ops: map[int][]lineEdit{}, ins: map[int][]string{}}
}

func (e *editor) empty() bool { return len(e.del) == 0 && len(e.ops) == 0 && len(e.ins) == 0 }

func (e *editor) render() string {
	var out []line
	for i := 0; i <= len(e.lines); i++ {
		for _, t := range e.ins[i] {
			out = append(out, line{text: t, eol: e.eol})
		}
		if i == len(e.lines) {
			break
		}
		if e.del[i] {
			continue
		}
		l := e.lines[i]
		ops := append([]lineEdit(nil), e.ops[i]...)
		sort.SliceStable(ops, func(a, b int) bool { return ops[a].off > ops[b].off })
		for _, op := range ops {
			l.text = l.text[:op.off] + op.ins + l.text[op.off+op.del:]
		}
		if len(ops) > 0 && strings.TrimSpace(l.text) == "" {
			continue // an edit left nothing on the line
		}
		out = append(out, l)
	}
	// Every line but the last keeps a line break; the last has one only if the input did.
	for i := range out {
		if i < len(out)-1 && out[i].eol == "" {
			out[i].eol = e.eol
		}
	}
	if n := len(e.lines); n > 0 && len(out) > 0 && e.lines[n-1].eol == "" {
		out[len(out)-1].eol = ""
	}
	return joinLines(out)
}

// byteOffset converts a parser column (1-based, in characters) on line i (0-based)
// to a byte offset into the line's text.
func (e *editor) byteOffset(i, col int) (int, bool) {
	if i < 0 || i >= len(e.lines) || col < 1 {
		return 0, false
	}
	t := e.lines[i].text
	off := 0
	for c := 1; c < col; c++ {
		if off >= len(t) {
			return 0, false
		}
		_, n := utf8.DecodeRuneInString(t[off:])
		off += n
	}
	return off, true
}

func leadingSpaces(t string) int {
	n := 0
	for n < len(t) && t[n] == ' ' {
		n++
	}
	return n
}

func isBlank(t string) bool { return strings.Trim(t, " \t") == "" }

// isFlow reports whether n is a flow-style collection.
func isFlow(n *yaml.Node) bool { return n.Style&yaml.FlowStyle != 0 }

// blockMapOK reports whether m is a block mapping whose keys each start a line (after
// indentation) at the same column, the layout the line edits assume.
func (e *editor) blockMapOK(m *yaml.Node) bool {
	if m.Kind != yaml.MappingNode || isFlow(m) || len(m.Content) == 0 || len(m.Content)%2 != 0 {
		return false
	}
	col := m.Content[0].Column
	for i := 0; i < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode || k.Column != col || k.Line < 1 || k.Line > len(e.lines) {
			return false
		}
		if col-1 != leadingSpaces(e.lines[k.Line-1].text) {
			return false
		}
	}
	return true
}

// entryEnd returns the last line (0-based) of the block mapping entry whose key is k
// and value v, the key being at column c (0-based): the lines after the key line that
// are indented deeper than the key, or that are items of a block sequence value at
// the key's own indentation. Trailing blank lines are not part of the entry.
func (e *editor) entryEnd(k, v *yaml.Node, c int) int {
	end := k.Line - 1
	seq := v.Kind == yaml.SequenceNode && !isFlow(v)
	for j := k.Line; j < len(e.lines); j++ {
		t := e.lines[j].text
		if isBlank(t) {
			continue
		}
		ind := leadingSpaces(t)
		if ind > c || (seq && ind == c && (t[ind:] == "-" || strings.HasPrefix(t[ind:], "- "))) {
			end = j
			continue
		}
		break
	}
	return end
}

// mapLookup returns the key and value nodes of key in mapping m.
func mapLookup(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return k, m.Content[i+1]
		}
	}
	return nil, nil
}

// kv is one annotation to write.
type kv struct{ key, value string }

// textEdit edits the chunk's text to remove the annotations in remove and add those
// in add. It returns the new text, or a reason the text cannot be edited in place.
func textEdit(ch chunk, eol string, root *yaml.Node, remove map[string]bool, add []kv) (string, string) {
	e := newEditor(ch.lines, eol)
	mdKey, md := mapLookup(root, "metadata")
	if md == nil || md.Kind != yaml.MappingNode {
		return "", "metadata is not a plain mapping"
	}
	annKey, ann := mapLookup(md, "annotations")
	if ann != nil && ann.Kind == yaml.MappingNode && ann.Anchor != "" {
		return "", "metadata.annotations has an anchor"
	}
	if isFlow(md) {
		switch {
		case ann == nil:
			if len(add) > 0 {
				entries := "\"annotations\": {" + flowEntries(add) + "}"
				if reason := e.flowPrefix(md, entries); reason != "" {
					return "", reason
				}
			}
		case ann.Kind == yaml.MappingNode && isFlow(ann):
			if anyPresent(ann, remove) {
				return "", "an annotation to replace is in a flow-style mapping"
			}
			if len(add) > 0 {
				if reason := e.flowPrefix(ann, flowEntries(add)); reason != "" {
					return "", reason
				}
			}
		default:
			return "", "metadata.annotations is not a mapping"
		}
		return e.render(), ""
	}

	if !e.blockMapOK(md) {
		return "", "metadata has an unusual layout"
	}
	mdCol := md.Content[0].Column - 1
	unit := md.Content[0].Column - mdKey.Column
	if unit <= 0 {
		unit = 2
	}
	switch {
	case ann == nil:
		if len(add) > 0 {
			last := len(md.Content) - 2
			gap := e.entryEnd(md.Content[last], md.Content[last+1], mdCol) + 1
			lines := []string{strings.Repeat(" ", mdCol) + "annotations:"}
			e.ins[gap] = append(e.ins[gap], append(lines, blockEntries(add, mdCol+unit)...)...)
		}
	case ann.Kind == yaml.MappingNode && !isFlow(ann):
		if !e.blockMapOK(ann) {
			return "", "metadata.annotations has an unusual layout"
		}
		col := ann.Content[0].Column - 1
		for i := 0; i < len(ann.Content); i += 2 {
			k, v := ann.Content[i], ann.Content[i+1]
			if remove[k.Value] {
				for j := k.Line - 1; j <= e.entryEnd(k, v, col); j++ {
					e.del[j] = true
				}
			}
		}
		if len(add) > 0 {
			last := len(ann.Content) - 2
			gap := e.entryEnd(ann.Content[last], ann.Content[last+1], col) + 1
			e.ins[gap] = append(e.ins[gap], blockEntries(add, col)...)
		}
	case ann.Kind == yaml.MappingNode: // flow style inside block metadata
		if anyPresent(ann, remove) {
			return "", "an annotation to replace is in a flow-style mapping"
		}
		if len(add) == 0 {
			break
		}
		if len(ann.Content) == 0 {
			// "annotations: {}" (helm's toYaml of an empty map): write a block mapping instead.
			if e.replaceEmptyFlow(annKey, ann, add, unit) {
				break
			}
		}
		if reason := e.flowPrefix(ann, flowEntries(add)); reason != "" {
			return "", reason
		}
	case ann.Kind == yaml.ScalarNode && ann.Tag == "!!null" && ann.Style == 0:
		if len(add) == 0 {
			break
		}
		// "annotations:", "annotations: null" or "annotations: ~": drop the null, add entries below.
		i := ann.Line - 1
		if ann.Value != "" {
			off, ok := e.byteOffset(i, ann.Column)
			if !ok || !strings.HasPrefix(e.lines[i].text[off:], ann.Value) {
				return "", "cannot find the null value of metadata.annotations"
			}
			start := off
			if ann.Line == annKey.Line {
				for start > 0 && (e.lines[i].text[start-1] == ' ' || e.lines[i].text[start-1] == '\t') {
					start--
				}
			}
			e.ops[i] = append(e.ops[i], lineEdit{off: start, del: off + len(ann.Value) - start})
		}
		e.ins[i+1] = append(e.ins[i+1], blockEntries(add, annKey.Column-1+unit)...)
	default:
		return "", "metadata.annotations is not a mapping"
	}
	return e.render(), ""
}

// replaceEmptyFlow turns "annotations: {}" (or "{}" on the next line) into a block
// mapping holding add. It reports false when the braces are not "{}" on one line.
func (e *editor) replaceEmptyFlow(annKey, ann *yaml.Node, add []kv, unit int) bool {
	i := ann.Line - 1
	off, ok := e.byteOffset(i, ann.Column)
	if !ok {
		return false
	}
	t := e.lines[i].text
	if off >= len(t) || t[off] != '{' {
		return false
	}
	end := off + 1
	for end < len(t) && (t[end] == ' ' || t[end] == '\t') {
		end++
	}
	if end >= len(t) || t[end] != '}' {
		return false
	}
	end++
	start := off
	if ann.Line == annKey.Line {
		for start > 0 && (t[start-1] == ' ' || t[start-1] == '\t') {
			start--
		}
	}
	e.ops[i] = append(e.ops[i], lineEdit{off: start, del: end - start})
	e.ins[i+1] = append(e.ins[i+1], blockEntries(add, annKey.Column-1+unit)...)
	return true
}

// flowPrefix inserts entries just after the "{" of the flow mapping m.
func (e *editor) flowPrefix(m *yaml.Node, entries string) string {
	i := m.Line - 1
	off, ok := e.byteOffset(i, m.Column)
	if !ok || off >= len(e.lines[i].text) || e.lines[i].text[off] != '{' {
		return "cannot find the start of a flow-style mapping"
	}
	if len(m.Content) > 0 {
		entries += ", "
	}
	e.ops[i] = append(e.ops[i], lineEdit{off: off + 1, ins: entries})
	return ""
}

func anyPresent(m *yaml.Node, keys map[string]bool) bool {
	for i := 0; i < len(m.Content); i += 2 {
		if keys[m.Content[i].Value] {
			return true
		}
	}
	return false
}

func blockEntries(add []kv, indent int) []string {
	out := make([]string, 0, len(add))
	pad := strings.Repeat(" ", indent)
	for _, a := range add {
		out = append(out, pad+blockScalar(a.key)+": "+blockScalar(a.value))
	}
	return out
}

func flowEntries(add []kv) string {
	parts := make([]string, 0, len(add))
	for _, a := range add {
		parts = append(parts, quoteScalar(a.key)+": "+quoteScalar(a.value))
	}
	return strings.Join(parts, ", ")
}

// blockScalar writes s as a plain scalar when both YAML 1.2 (this parser) and YAML
// 1.1 (kubectl's parser) read it back as the same string, and double-quoted otherwise.
func blockScalar(s string) string {
	if plainOK(s) {
		return s
	}
	return quoteScalar(s)
}

func plainOK(s string) bool {
	if s == "" || strings.TrimSpace(s) != s || strings.ContainsAny(s, "\t\r\n\"'\\") {
		return false
	}
	for _, r := range s {
		if !printable(r) {
			return false
		}
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("k: "+s+"\n"), &n); err != nil {
		return false
	}
	if len(n.Content) != 1 || len(n.Content[0].Content) != 2 {
		return false
	}
	v := n.Content[0].Content[1]
	if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Style != 0 || v.Value != s {
		return false
	}
	js, err := sigsyaml.YAMLToJSON([]byte("k: " + s + "\n"))
	if err != nil {
		return false
	}
	var m map[string]interface{}
	if err := json.Unmarshal(js, &m); err != nil || len(m) != 1 {
		return false
	}
	got, ok := m["k"].(string)
	return ok && got == s
}

// quoteScalar writes s as a double-quoted scalar that is also a JSON string, so that
// it fits JSON documents too: printable characters stay as they are, others become
// \u escapes.
func quoteScalar(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case printable(r):
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// printable is YAML's c-printable without tab, the characters the parser counts as
// line breaks (NEL, LS, PS) and the byte order mark. Every rune above U+FFFF is
// printable, so quoteScalar needs only \u escapes.
func printable(r rune) bool {
	switch {
	case r >= 0x20 && r <= 0x7E:
		return true
	case r >= 0xA0 && r <= 0xD7FF:
		return r != 0x2028 && r != 0x2029
	case r >= 0xE000 && r <= 0xFFFD:
		return r != 0xFEFF
	}
	return r >= 0x10000 && r <= 0x10FFFF
}

// renumber shifts the "line N" of a YAML parser error by offset lines, so that it
// names the line in the whole stream rather than in one document.
func renumber(msg string, offset int) string {
	const word = "line "
	var b strings.Builder
	for {
		i := strings.Index(msg, word)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		j := i + len(word)
		k := j
		for k < len(msg) && msg[k] >= '0' && msg[k] <= '9' {
			k++
		}
		b.WriteString(msg[:j])
		if n, err := strconv.Atoi(msg[j:k]); err == nil {
			b.WriteString(strconv.Itoa(n + offset))
		}
		msg = msg[k:]
	}
}
