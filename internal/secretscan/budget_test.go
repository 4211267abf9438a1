package secretscan

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func configMap(data map[string]interface{}) map[string]interface{} {
	return map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]interface{}{"name": "x"}, "data": data}
}

func TestChunksCoverEveryShortSubstring(t *testing.T) {
	const size, overlap = 64, 16
	texts := map[string]string{
		"no breaks":      strings.Repeat("a", 1000),
		"lines":          strings.Repeat("abcdefghi\n", 100),
		"blanks":         strings.Repeat("abc defgh ", 100),
		"one long token": strings.Repeat("x y\n", 20) + strings.Repeat("z", 300) + strings.Repeat(" w", 50),
		"short":          "just this",
	}
	for name, text := range texts {
		t.Run(name, func(t *testing.T) {
			cs := chunks(text, size, overlap)
			for i, c := range cs {
				if c.end-c.start > size || c.start >= c.end {
					t.Fatalf("chunk %d = %v: empty or over %d bytes", i, c, size)
				}
				if i > 0 && c.start <= cs[i-1].start {
					t.Fatalf("chunk %d starts at %d, not after chunk %d (%d)", i, c.start, i-1, cs[i-1].start)
				}
			}
			if cs[0].start != 0 || cs[len(cs)-1].end != len(text) {
				t.Fatalf("chunks %v do not cover [0,%d)", cs, len(text))
			}
			for a := 0; a < len(text); a++ {
				for n := 1; n <= overlap/2 && a+n <= len(text); n++ {
					inside := false
					for _, c := range cs {
						if c.start <= a && a+n <= c.end {
							inside = true
							break
						}
					}
					if !inside {
						t.Fatalf("substring [%d,%d) is split by every chunk of %v", a, a+n, cs)
					}
				}
			}
		})
	}
}

// A credential is found wherever it falls relative to the chunk boundaries of a long
// value, and reported once, with its whole fingerprint.
func TestScanFindsTokensAcrossChunkBoundaries(t *testing.T) {
	if err := Load(); err != nil {
		t.Fatal(err)
	}
	line := "GITHUB_TOKEN=" + githubPAT
	for _, padding := range []string{"#", "# comment line\n"} {
		for _, at := range []int{ChunkSize - ChunkOverlap - 20, ChunkSize - ChunkOverlap/2 - 10, ChunkSize - len(line)/2, ChunkSize - 1, ChunkSize, 2*ChunkSize - ChunkOverlap - 7, 3 * ChunkSize} {
			pad := strings.Repeat(padding, at/len(padding)+1)[:at]
			value := pad + line + strings.Repeat(padding, 2*ChunkSize/len(padding))
			t.Run(fmt.Sprintf("%q at %d", padding[:1], at), func(t *testing.T) {
				got := Scan(configMap(map[string]interface{}{"config.env": value}))
				want := []Finding{{Location: "data[config.env]", Key: "config.env", RuleID: "github-pat", Fingerprint: Redact(githubPAT)}}
				for i := range got {
					got[i].Description = ""
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("Scan() =\n%s\nwant\n%s", dump(got), dump(want))
				}
			})
		}
	}
}

func TestScanWithinBudget(t *testing.T) {
	if err := Load(); err != nil {
		t.Fatal(err)
	}
	obj := configMap(map[string]interface{}{"a": "GITHUB_TOKEN=" + githubPAT, "b": strings.Repeat("x", 10_000), "c": "debug"})
	ctx := context.Background()

	t.Run("within the budget: complete", func(t *testing.T) {
		r := ScanWithin(ctx, obj, nil, DefaultBudget)
		if r.Incomplete != nil || len(r.Findings) != 1 || r.ScannedValues != 3 {
			t.Errorf("ScanWithin() = %+v (incomplete %+v), want 1 finding in 3 values, complete", r, r.Incomplete)
		}
	})
	t.Run("over the byte budget: incomplete, naming the first value not scanned", func(t *testing.T) {
		r := ScanWithin(ctx, obj, nil, Budget{MaxBytes: 1000})
		if r.Incomplete == nil || r.Incomplete.Limit != LimitBytes || r.Incomplete.Location != "data[b]" {
			t.Fatalf("ScanWithin() incomplete = %+v, want the byte limit at data[b]", r.Incomplete)
		}
		if len(r.Findings) != 1 || r.ScannedValues != 1 {
			t.Errorf("ScanWithin() = %+v, want what data[a] holds", r)
		}
		if !strings.Contains(r.Incomplete.Reason(), "over the budget of 1000") {
			t.Errorf("Reason() = %q", r.Incomplete.Reason())
		}
	})
	t.Run("over the value budget", func(t *testing.T) {
		r := ScanWithin(ctx, obj, nil, Budget{MaxValues: 2})
		if r.Incomplete == nil || r.Incomplete.Limit != LimitValues || r.Incomplete.Location != "data[c]" || r.Incomplete.TotalValues != 3 {
			t.Fatalf("ScanWithin() incomplete = %+v, want the value limit at data[c]", r.Incomplete)
		}
	})
	t.Run("canceled request", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		r := ScanWithin(c, obj, nil, DefaultBudget)
		if r.Incomplete == nil || r.Incomplete.Limit != LimitCanceled || len(r.Findings) != 0 {
			t.Fatalf("ScanWithin() = %+v, incomplete %+v; want canceled, nothing found", r, r.Incomplete)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		start := time.Now()
		r := ScanWithin(ctx, slowConfigMap(), nil, Budget{MaxDuration: 50 * time.Millisecond})
		if r.Incomplete == nil || r.Incomplete.Limit != LimitDeadline {
			t.Fatalf("ScanWithin() incomplete = %+v, want the deadline", r.Incomplete)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("ScanWithin() returned after %s, its deadline was 50ms", d)
		}
		if !strings.Contains(r.Incomplete.Reason(), "time budget (50ms)") {
			t.Errorf("Reason() = %q", r.Incomplete.Reason())
		}
	})
}

// On update only values that changed are scanned: a credential already stored is
// the reconciler's to report, and an unchanged 1 MB ConfigMap costs nothing again.
func TestScanWithinOnlyChangedValues(t *testing.T) {
	old := configMap(map[string]interface{}{"a": "GITHUB_TOKEN=" + githubPAT, "b": "debug"})
	cases := map[string]struct {
		obj       map[string]interface{}
		wantFound int
		wantVals  int
	}{
		"unchanged":                  {obj: old, wantFound: 0, wantVals: 0},
		"another value changed":      {obj: configMap(map[string]interface{}{"a": "GITHUB_TOKEN=" + githubPAT, "b": "info"}), wantFound: 0, wantVals: 1},
		"the credential moved":       {obj: configMap(map[string]interface{}{"c": "GITHUB_TOKEN=" + githubPAT, "b": "debug"}), wantFound: 1, wantVals: 1},
		"a credential added":         {obj: configMap(map[string]interface{}{"a": "GITHUB_TOKEN=" + githubPAT, "b": "token: " + slackToken}), wantFound: 1, wantVals: 1},
		"a value with the old value": {obj: configMap(map[string]interface{}{"a": "GITHUB_TOKEN=" + githubPAT + "\n", "b": "debug"}), wantFound: 1, wantVals: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := ScanWithin(context.Background(), tc.obj, old, DefaultBudget)
			if len(r.Findings) != tc.wantFound || r.ScannedValues != tc.wantVals || r.Incomplete != nil {
				t.Errorf("ScanWithin() = %d findings in %d values (incomplete %+v), want %d in %d", len(r.Findings), r.ScannedValues, r.Incomplete, tc.wantFound, tc.wantVals)
			}
		})
	}
}

// largeConfigMap is the ConfigMap of finding M6: 4,000 keys of 250 random
// alphanumerics with one-character values, 1.0 MB.
func largeConfigMap() map[string]interface{} {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	seed := uint64(1)
	data := map[string]interface{}{}
	for i := range 4000 {
		var b strings.Builder
		fmt.Fprintf(&b, "key-%04d-", i)
		for b.Len() < 250 {
			seed = seed*6364136223846793005 + 1442695040888963407
			b.WriteByte(alnum[(seed>>33)%uint64(len(alnum))])
		}
		data[b.String()] = "x"
	}
	return configMap(data)
}

// slowConfigMap is made for gitleaks' slowest rules: every key has their keywords,
// so every value needs them (each up to about 10 µs per byte).
func slowConfigMap() map[string]interface{} {
	obj := largeConfigMap()
	data := obj["data"].(map[string]interface{})
	slow := map[string]interface{}{}
	for k := range data {
		slow["linkedin-bittrex-hubspot-messagebird-"+k[:200]] = "x"
	}
	obj["data"] = slow
	return obj
}

// BenchmarkScanLargeConfigMap is finding M6's ConfigMap under the webhook's budget:
// before (scanned as one text with every rule any key called for) it cost about
// 9 CPU-seconds; docs/benchmarks.md has the figures.
func BenchmarkScanLargeConfigMap(b *testing.B) {
	obj := largeConfigMap()
	if err := Load(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if r := ScanWithin(context.Background(), obj, nil, DefaultBudget); r.Incomplete != nil {
			b.Fatalf("ScanWithin() stopped: %s", r.Incomplete.Reason())
		}
	}
}

// BenchmarkScanSlowConfigMap is the worst case: a 1 MB ConfigMap made to trip the
// slowest rules everywhere. The deadline stops it.
func BenchmarkScanSlowConfigMap(b *testing.B) {
	obj := slowConfigMap()
	if err := Load(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if r := ScanWithin(context.Background(), obj, nil, DefaultBudget); r.Incomplete == nil {
			b.Log("scanned fully within the budget")
		}
	}
}
