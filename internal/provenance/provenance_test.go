package provenance

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

const sha1 = "0123456789abcdef0123456789abcdef01234567"

func TestValidate(t *testing.T) {
	path := field.NewPath("metadata", "annotations")
	cases := map[string]struct {
		ann      map[string]string
		wantErrs []string // what the single expected error must mention
	}{
		"full pipeline provenance is valid": {ann: map[string]string{
			CommitKey: sha1, RepositoryKey: "https://github.com/acme/shop", PullRequestKey: "42",
			PipelineRunKey: "https://ci/run/7", ApproverKey: "alice,bob", ActorKey: ActorPipeline,
			SourceKey: "generated:helm", PathKey: "deploy/app.yaml",
		}},
		"sha256 commits are accepted":          {ann: map[string]string{CommitKey: strings.Repeat("a", 64)}},
		"scp-like repository is accepted":      {ann: map[string]string{RepositoryKey: "git@github.com:acme/shop.git"}},
		"short commit is rejected":             {ann: map[string]string{CommitKey: "0123456"}, wantErrs: []string{"kubetrail.io/commit", "40 or 64"}},
		"uppercase commit is rejected":         {ann: map[string]string{CommitKey: strings.ToUpper(sha1)}, wantErrs: []string{"lowercase"}},
		"unknown actor names the allowed ones": {ann: map[string]string{ActorKey: "robot"}, wantErrs: []string{`"human", "pipeline", "agent"`}},
		"agent change must name the agent":     {ann: map[string]string{ActorKey: ActorAgent}, wantErrs: []string{"kubetrail.io/agent"}},
		"bad source":                           {ann: map[string]string{SourceKey: "generated:"}, wantErrs: []string{"generated:<tool>"}},
		"newline injection":                    {ann: map[string]string{ApproverKey: "alice\nkubetrail.io/verified: true"}, wantErrs: []string{"one line"}},
		"invalid utf-8":                        {ann: map[string]string{PathKey: "a\xffb"}, wantErrs: []string{"UTF-8"}},
		"oversized":                            {ann: map[string]string{PathKey: strings.Repeat("x", MaxValueLength+1)}, wantErrs: []string{"may not be more than"}},
		"escape codes in break-glass":          {ann: map[string]string{BreakGlassKey: "INC-1 \x1b[2Jcleared the screen"}, wantErrs: []string{"control characters"}},
		"terse break-glass":                    {ann: map[string]string{BreakGlassKey: "fix"}, wantErrs: []string{"reason"}},
		"repository must be a URL":             {ann: map[string]string{RepositoryKey: "shop"}, wantErrs: []string{"repository URL"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			errs := Validate(tc.ann, path)
			if tc.wantErrs == nil {
				if len(errs) != 0 {
					t.Fatalf("got errors %v, want none", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("got %d errors %v, want 1", len(errs), errs)
			}
			msg := errs[0].Error()
			for _, want := range tc.wantErrs {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if !strings.Contains(msg, "metadata.annotations[kubetrail.io/") {
				t.Errorf("error %q does not name the field", msg)
			}
		})
	}
}

func TestAnnotationsRoundTrip(t *testing.T) {
	ann := map[string]string{CommitKey: sha1, ApproverKey: "alice, bob,alice", ActorKey: ActorHuman}
	p := FromAnnotations(ann)
	if got := strings.Join(p.Approvers, "|"); got != "alice|bob" {
		t.Fatalf("approvers = %q, want alice|bob", got)
	}
	back := p.Annotations()
	if back[CommitKey] != sha1 || back[ApproverKey] != "alice,bob" || back[ActorKey] != ActorHuman || len(back) != 3 {
		t.Fatalf("round trip gave %v", back)
	}
	if FromAnnotations(nil).IsEmpty() != true || p.IsEmpty() {
		t.Fatal("IsEmpty is wrong")
	}
}
