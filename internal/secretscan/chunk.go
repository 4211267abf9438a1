package secretscan

import "strings"

// Values longer than ChunkSize are scanned in chunks of at most ChunkSize bytes that
// overlap by ChunkOverlap bytes. gitleaks scans files of any size the same way (in
// buffers, see sources.File); here it also bounds how long one call into gitleaks
// runs, so that a deadline is noticed between chunks (a single rule can cost about
// 10 µs per byte on adversarial text: at most a third of a second per chunk).
const (
	ChunkSize    = 32 << 10
	ChunkOverlap = 8 << 10
	// MaxMatchAcrossChunks is the longest match chunking is guaranteed not to split:
	// any substring of at most this many bytes lies entirely within one chunk. It
	// covers a PEM-encoded RSA 4096 private key (about 3.3 KiB).
	MaxMatchAcrossChunks = ChunkOverlap / 2
)

// span is the half-open byte range [start, end) of one chunk.
type span struct{ start, end int }

// chunks splits a text of n bytes into overlapping chunks of at most size bytes.
// Every substring of at most overlap/2 bytes lies entirely within at least one
// chunk, provided size >= 3*overlap. Boundaries are moved to just after a line break
// (or else a blank) when there is one near them, so that a token is split only in a
// line longer than the overlap (a split token's pieces are never reported as
// credentials of their own when the whole token is found in the next chunk, but a
// generic rule could take a piece for one).
//
// Proof sketch: chunk k ends at e_k and the next starts at s_{k+1}, with
// e_k - overlap <= s_{k+1} <= e_k - overlap/2. A match [a, b) with b - a <= overlap/2
// that crosses e_k has a > e_k - overlap/2 >= s_{k+1}, and b <= e_k + overlap/2 <=
// s_{k+1} + size - overlap <= e_{k+1}, since an end is moved back by at most
// overlap/2 and size >= 3*overlap.
func chunks(text string, size, overlap int) []span {
	n := len(text)
	if n <= size {
		return []span{{0, n}}
	}
	var out []span
	start := 0
	for {
		if n-start <= size {
			out = append(out, span{start, n})
			return out
		}
		end := start + size
		if i := lastBreak(text[end-overlap/2 : end]); i >= 0 {
			end = end - overlap/2 + i + 1
		}
		out = append(out, span{start, end})
		next := end - overlap
		if j := lastBreak(text[next : end-overlap/2]); j >= 0 {
			next += j + 1
		}
		start = next
	}
}

// lastBreak returns the index of the last newline in s, else of the last blank or
// tab, else -1.
func lastBreak(s string) int {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return i
	}
	return strings.LastIndexAny(s, " \t")
}

func isBreak(c byte) bool { return c == '\n' || c == ' ' || c == '\t' }
