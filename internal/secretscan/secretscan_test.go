package secretscan

import (
	"encoding/base64"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zricethezav/gitleaks/v8/report"
)

// Test credentials are assembled at run time so that gitleaks (or GitHub push
// protection) scanning this repository does not flag the test file itself. They are
// random, not real, and chosen because gitleaks' default rules do flag them (the
// well-known AKIAIOSFODNN7EXAMPLE is allowlisted and would prove nothing).
var (
	awsKeyID    = "AKIA" + "Z7VRSQ5TJN2XMY6Q"
	githubPAT   = "ghp_" + "R8xKq2LmN5vT9wYbC3dF6gH1jP4sZ7uE0aQi"
	stripeKey   = "sk_" + "live_4eC39HqLyjWDarjtT1zdp7dc"
	slackToken  = "xoxb-" + "2736189201-4820395716283-Rk7Tq9ZxW3mVbN8cLpY2sHdF"
	dbPassword  = "Xk9mP2vL" + "8qR4wZtYn3"
	allSecrets  = []string{awsKeyID, githubPAT, stripeKey, slackToken, dbPassword}
	envVar      = func(name, value string) interface{} { return map[string]interface{}{"name": name, "value": value} }
	container   = func(name string, fields map[string]interface{}) interface{} { fields["name"] = name; return fields }
	deployment  = func(podSpec map[string]interface{}) map[string]interface{} { return wrap("Deployment", podSpec) }
	list        = func(items ...interface{}) []interface{} { return items }
	depLocation = "spec.template.spec.containers"
)

// wrap puts a pod spec where kind keeps it.
func wrap(kind string, podSpec map[string]interface{}) map[string]interface{} {
	obj := map[string]interface{}{"apiVersion": "apps/v1", "kind": kind, "metadata": map[string]interface{}{"name": "x"}}
	switch kind {
	case "Pod":
		obj["spec"] = podSpec
	case "CronJob":
		obj["spec"] = map[string]interface{}{"jobTemplate": map[string]interface{}{"spec": map[string]interface{}{"template": map[string]interface{}{"spec": podSpec}}}}
	default:
		obj["spec"] = map[string]interface{}{"template": map[string]interface{}{"spec": podSpec}}
	}
	return obj
}

func TestScan(t *testing.T) {
	cases := map[string]struct {
		obj  map[string]interface{}
		want []Finding
	}{
		"AWS key in a Deployment env var": {
			obj: deployment(map[string]interface{}{"containers": list(container("app", map[string]interface{}{
				"env": list(envVar("LOG_LEVEL", "debug"), envVar("AWS_ACCESS_KEY_ID", awsKeyID)),
			}))}),
			want: []Finding{{
				Location: depLocation + "[app].env[AWS_ACCESS_KEY_ID]", Container: "app", Key: "AWS_ACCESS_KEY_ID",
				RuleID: "aws-access-token", Fingerprint: Redact(awsKeyID),
			}},
		},
		"password only recognised next to its env var name": {
			obj: deployment(map[string]interface{}{"containers": list(container("app", map[string]interface{}{
				"env": list(envVar("DB_PASSWORD", dbPassword)),
			}))}),
			want: []Finding{{
				Location: depLocation + "[app].env[DB_PASSWORD]", Container: "app", Key: "DB_PASSWORD",
				RuleID: "generic-api-key", Fingerprint: Redact(dbPassword),
			}},
		},
		"GitHub token in CronJob args, reported once": {
			obj: wrap("CronJob", map[string]interface{}{"containers": list(container("sync", map[string]interface{}{
				"args": list("--repo", "acme/shop", "--token", githubPAT),
			}))}),
			want: []Finding{{
				Location: "spec.jobTemplate.spec.template.spec.containers[sync].args[3]", Container: "sync",
				RuleID: "github-pat", Fingerprint: Redact(githubPAT),
			}},
		},
		"Stripe key in an init container command of a Pod, sorted by rule": {
			obj: wrap("Pod", map[string]interface{}{"initContainers": list(container("migrate", map[string]interface{}{
				"command": list("sh", "-c", `curl -H "Authorization: Bearer `+stripeKey+`" https://api.stripe.com/v1/charges`),
			}))}),
			// gitleaks reports both rules; the shared fingerprint shows it is one credential.
			want: []Finding{
				{Location: "spec.initContainers[migrate].command[2]", Container: "migrate", RuleID: "curl-auth-header", Fingerprint: Redact(stripeKey)},
				{Location: "spec.initContainers[migrate].command[2]", Container: "migrate", RuleID: "stripe-access-token", Fingerprint: Redact(stripeKey)},
			},
		},
		"Slack token in a ConfigMap data key": {
			obj: map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]interface{}{
				"credentials.json": `{"channel": "#deploys", "bot": "` + slackToken + `"}`,
				"log-level":        "debug",
			}},
			want: []Finding{{
				Location: "data[credentials.json]", Key: "credentials.json",
				RuleID: "slack-bot-token", Fingerprint: Redact(slackToken),
			}},
		},
		"base64-encoded token is decoded, as gitleaks does": {
			obj: deployment(map[string]interface{}{"containers": list(container("app", map[string]interface{}{
				"env": list(envVar("CONFIG", base64.StdEncoding.EncodeToString([]byte("token: "+githubPAT)))),
			}))}),
			want: []Finding{{
				Location: depLocation + "[app].env[CONFIG]", Container: "app", Key: "CONFIG",
				RuleID: "github-pat", Fingerprint: Redact(githubPAT),
			}},
		},
		"findings sorted by location, across containers": {
			obj: wrap("StatefulSet", map[string]interface{}{"containers": list(
				container("web", map[string]interface{}{"env": list(envVar("GITHUB_TOKEN", githubPAT))}),
				container("api", map[string]interface{}{"env": list(envVar("AWS_ACCESS_KEY_ID", awsKeyID))}),
			)}),
			want: []Finding{
				{Location: depLocation + "[api].env[AWS_ACCESS_KEY_ID]", Container: "api", Key: "AWS_ACCESS_KEY_ID", RuleID: "aws-access-token", Fingerprint: Redact(awsKeyID)},
				{Location: depLocation + "[web].env[GITHUB_TOKEN]", Container: "web", Key: "GITHUB_TOKEN", RuleID: "github-pat", Fingerprint: Redact(githubPAT)},
			},
		},
		"env var listed twice is reported once": {
			obj: deployment(map[string]interface{}{"containers": list(container("app", map[string]interface{}{
				"env": list(envVar("GITHUB_TOKEN", githubPAT), envVar("GITHUB_TOKEN", githubPAT)),
			}))}),
			want: []Finding{{
				Location: depLocation + "[app].env[GITHUB_TOKEN]", Container: "app", Key: "GITHUB_TOKEN",
				RuleID: "github-pat", Fingerprint: Redact(githubPAT),
			}},
		},
		"harmless env": {
			obj: deployment(map[string]interface{}{"containers": list(container("app", map[string]interface{}{
				"env":  list(envVar("LOG_LEVEL", "debug"), envVar("PORT", "8080"), envVar("API_URL", "https://api.example.com/v1")),
				"args": list("--log-level", "debug", "--listen=:8080"),
			}))}),
		},
		"valueFrom is a reference, not a literal": {
			obj: deployment(map[string]interface{}{"containers": list(container("app", map[string]interface{}{
				"env": list(map[string]interface{}{
					"name":      "AWS_ACCESS_KEY_ID",
					"value":     awsKeyID, // invalid alongside valueFrom; the API server rejects it
					"valueFrom": map[string]interface{}{"secretKeyRef": map[string]interface{}{"name": "aws", "key": "id"}},
				}),
			}))}),
		},
		"Secrets are never scanned": {
			obj: map[string]interface{}{"apiVersion": "v1", "kind": "Secret",
				"stringData": map[string]interface{}{"token": githubPAT},
				"data":       map[string]interface{}{"token": githubPAT},
			},
		},
		"ConfigMap binaryData is decoded and scanned": {
			obj: map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap", "binaryData": map[string]interface{}{
				"config.env": base64.StdEncoding.EncodeToString([]byte("LOG_LEVEL=info\nGITHUB_TOKEN=" + githubPAT + "\n")),
			}},
			want: []Finding{{Location: "binaryData[config.env]", Key: "config.env", RuleID: "github-pat", Fingerprint: Redact(githubPAT)}},
		},
		"kinds without pod specs are not scanned": {
			obj: map[string]interface{}{"apiVersion": "v1", "kind": "Service", "spec": map[string]interface{}{"containers": list(container("app", map[string]interface{}{
				"env": list(envVar("GITHUB_TOKEN", githubPAT)),
			}))}},
		},
		"a token after 64 KiB of padding is found": {
			obj: map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]interface{}{
				"config.env": strings.Repeat("#", 64<<10) + "\nGITHUB_TOKEN=" + githubPAT + "\n",
			}},
			want: []Finding{{Location: "data[config.env]", Key: "config.env", RuleID: "github-pat", Fingerprint: Redact(githubPAT)}},
		},
		"probes, lifecycle hooks and HTTP headers": {
			obj: deployment(map[string]interface{}{"containers": list(container("app", map[string]interface{}{
				"livenessProbe": map[string]interface{}{"exec": map[string]interface{}{"command": list("sh", "-c", "check --token "+githubPAT)}},
				"readinessProbe": map[string]interface{}{"httpGet": map[string]interface{}{"path": "/ready", "port": int64(8080),
					"httpHeaders": list(map[string]interface{}{"name": "Authorization", "value": "token " + githubPAT})}},
				"lifecycle": map[string]interface{}{"postStart": map[string]interface{}{"exec": map[string]interface{}{"command": list("notify", "--slack", slackToken)}}},
			}))}),
			want: []Finding{
				{Location: depLocation + "[app].lifecycle.postStart.exec.command[2]", Container: "app", RuleID: "slack-bot-token", Fingerprint: Redact(slackToken)},
				{Location: depLocation + "[app].livenessProbe.exec.command[2]", Container: "app", RuleID: "github-pat", Fingerprint: Redact(githubPAT)},
				{Location: depLocation + "[app].readinessProbe.httpGet.httpHeaders[Authorization].value", Container: "app", Key: "Authorization", RuleID: "github-pat", Fingerprint: Redact(githubPAT)},
			},
		},
		"Helm's checksum annotations are digests, not keys": {
			obj: map[string]interface{}{"apiVersion": "apps/v1", "kind": "Deployment", "spec": map[string]interface{}{"template": map[string]interface{}{
				"metadata": map[string]interface{}{"annotations": map[string]interface{}{
					"checksum/secret": "3f9a5b7c1d2e4f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd",
					"checksum/config": "9b8a7c6d5e4f30211203948576afbecd0123456789abcdef0123456789abcdef",
				}},
				"spec": map[string]interface{}{"containers": list(container("app", map[string]interface{}{
					"image": "nginx@sha256:3f9a5b7c1d2e4f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd",
				}))},
			}}},
		},
		"ephemeral containers, volumes and the pod template's annotations": {
			obj: map[string]interface{}{"apiVersion": "apps/v1", "kind": "Deployment", "spec": map[string]interface{}{"template": map[string]interface{}{
				"metadata": map[string]interface{}{"annotations": map[string]interface{}{"example.com/deploy-token": githubPAT}},
				"spec": map[string]interface{}{
					"ephemeralContainers": list(container("debug", map[string]interface{}{"env": list(envVar("AWS_ACCESS_KEY_ID", awsKeyID))})),
					"volumes":             list(map[string]interface{}{"name": "repo", "gitRepo": map[string]interface{}{"repository": "https://x:" + githubPAT + "@github.com/acme/shop"}}),
				},
			}}},
			want: []Finding{
				{Location: depLocation[:len(depLocation)-len("spec.containers")] + "metadata.annotations[example.com/deploy-token]", Key: "example.com/deploy-token", RuleID: "github-pat", Fingerprint: Redact(githubPAT)},
				{Location: "spec.template.spec.ephemeralContainers[debug].env[AWS_ACCESS_KEY_ID]", Container: "debug", Key: "AWS_ACCESS_KEY_ID", RuleID: "aws-access-token", Fingerprint: Redact(awsKeyID)},
				{Location: "spec.template.spec.volumes[repo].gitRepo.repository", RuleID: "github-pat", Fingerprint: Redact(githubPAT)},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Scan(tc.obj)
			// Descriptions come from gitleaks; check they are there, then compare the rest.
			for i := range got {
				if got[i].Description == "" {
					t.Errorf("finding %d has no description", i)
				}
				got[i].Description = ""
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Scan() =\n%s\nwant\n%s", dump(got), dump(tc.want))
			}
		})
	}
}

func dump(fs []Finding) string {
	if len(fs) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %+v\n", f)
	}
	return b.String()
}

func TestFindingsNeverHoldTheSecret(t *testing.T) {
	obj := deployment(map[string]interface{}{"containers": list(container("app", map[string]interface{}{
		"env":     list(envVar("AWS_ACCESS_KEY_ID", awsKeyID), envVar("DB_PASSWORD", dbPassword), envVar("SLACK", slackToken)),
		"args":    list("--token", githubPAT),
		"command": list("pay", stripeKey),
	}))})
	findings := Scan(obj)
	if len(findings) != len(allSecrets) {
		t.Fatalf("Scan() found %d credentials, want %d:\n%s", len(findings), len(allSecrets), dump(findings))
	}
	for _, f := range findings {
		text := fmt.Sprintf("%+v", f)
		for _, secret := range allSecrets {
			if sub := sharedSubstring(text, secret, 6); sub != "" {
				t.Errorf("finding %s contains %q from a credential", f.Location, sub)
			}
		}
	}
}

// sharedSubstring returns a substring of secret at least n bytes long that occurs in
// text, or "".
func sharedSubstring(text, secret string, n int) string {
	for i := 0; i+n <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+n]) {
			return secret[i : i+n]
		}
	}
	return ""
}

func TestRedact(t *testing.T) {
	cases := map[string]struct {
		value string
		want  string
	}{
		"known answer (printf %s abc | sha256sum)": {value: "abc", want: "sha256:ba7816bf8f01"},
		"empty value": {value: "", want: "sha256:e3b0c44298fc"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Redact(tc.value); got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
	for _, secret := range allSecrets {
		fp := Redact(secret)
		if strings.HasPrefix(secret, strings.TrimPrefix(fp, "sha256:")[:6]) || sharedSubstring(fp, secret, 6) != "" {
			t.Errorf("Redact() of a credential shares text with it: %s", fp)
		}
		if Redact(secret) != fp {
			t.Error("Redact() is not stable")
		}
	}
	if Redact(awsKeyID) == Redact(githubPAT) {
		t.Error("Redact() gives two credentials the same fingerprint")
	}
}

func TestScanMalformedObjects(t *testing.T) {
	cases := map[string]map[string]interface{}{
		"nil object":                    nil,
		"kind not a string":             {"kind": 42},
		"spec not a map":                {"kind": "Deployment", "spec": "oops"},
		"containers not a list":         deployment(map[string]interface{}{"containers": "oops"}),
		"container not a map":           deployment(map[string]interface{}{"containers": list("oops", nil, 3)}),
		"env not a list":                deployment(map[string]interface{}{"containers": list(map[string]interface{}{"env": map[string]interface{}{}})}),
		"env item not a map":            deployment(map[string]interface{}{"containers": list(map[string]interface{}{"env": list("oops", nil)})}),
		"env value not a string":        deployment(map[string]interface{}{"containers": list(map[string]interface{}{"env": list(map[string]interface{}{"name": 1, "value": 2})})}),
		"args with non-strings":         deployment(map[string]interface{}{"containers": list(map[string]interface{}{"args": list(nil, 1, list(), map[string]interface{}{})})}),
		"ConfigMap data not a map":      {"kind": "ConfigMap", "data": list("a")},
		"ConfigMap data value not text": {"kind": "ConfigMap", "data": map[string]interface{}{"a": 1, "b": nil}},
		"invalid UTF-8 value":           {"kind": "ConfigMap", "data": map[string]interface{}{"a": "\xff\xfe token=\xff"}},
	}
	for name, obj := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Scan(obj); len(got) != 0 {
				t.Errorf("Scan() = %s, want nothing", dump(got))
			}
		})
	}
	t.Run("unnamed container and env var still get a location", func(t *testing.T) {
		got := Scan(deployment(map[string]interface{}{"containers": list(map[string]interface{}{
			"env": list(map[string]interface{}{"value": awsKeyID}),
		})}))
		if len(got) != 1 || got[0].Location != depLocation+"[#0].env[#0]" {
			t.Errorf("Scan() = %s, want one finding at %s[#0].env[#0]", dump(got), depLocation)
		}
	})
}

func TestLoad(t *testing.T) {
	if err := Load(); err != nil {
		t.Fatalf("Load() = %v; gitleaks' default rules must load", err)
	}
	if n := len(detector.Config.Rules); n < 100 {
		t.Errorf("loaded %d gitleaks rules, want the full default set (>100)", n)
	}
}

// BenchmarkScanDeployment measures an admission-sized Deployment: two containers, ten
// env vars, one of them a credential.
func BenchmarkScanDeployment(b *testing.B) {
	env := func(secret bool) []interface{} {
		out := list(
			envVar("LOG_LEVEL", "info"), envVar("PORT", "8080"), envVar("DB_HOST", "postgres.shop.svc"),
			envVar("DB_USER", "shop"), envVar("CACHE_URL", "redis://redis.shop.svc:6379/0"),
		)
		if secret {
			out[4] = envVar("GITHUB_TOKEN", githubPAT)
		}
		return out
	}
	obj := deployment(map[string]interface{}{"containers": list(
		container("app", map[string]interface{}{"image": "shop:1.4", "env": env(true), "args": list("--listen", ":8080")}),
		container("proxy", map[string]interface{}{"image": "envoy:1.30", "env": env(false), "args": list("-c", "/etc/envoy/envoy.yaml")}),
	)})
	if err := Load(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := Scan(obj); len(got) != 1 {
			b.Fatalf("Scan() found %d credentials, want 1", len(got))
		}
	}
}

// The webhook scans admission requests concurrently with one shared detector.
func TestScanConcurrent(t *testing.T) {
	obj := deployment(map[string]interface{}{"containers": list(container("app", map[string]interface{}{
		"env": list(envVar("GITHUB_TOKEN", githubPAT), envVar("DB_PASSWORD", dbPassword)),
	}))})
	want := Scan(obj)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			if got := Scan(obj); !reflect.DeepEqual(got, want) {
				errs <- dump(got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent Scan() =\n%s\nwant\n%s", e, dump(want))
	}
}

// gitleaks' encoded-segment pattern (detect/codec/encodings.go, v8.30.1): whatever it
// matches, mayHoldEncoded must say yes to, or a value would skip decoding it needs.
var encodedSegment = regexp.MustCompile(`(?P<percent>%[0-9A-Fa-f]{2}(?:.*%[0-9A-Fa-f]{2})?)|` +
	`(?P<unicode>(?:(?:U\+[a-fA-F0-9]{4}(?:\s|$))+|(?i)(?:\\{1,2}u[a-fA-F0-9]{4})+))|` +
	`(?P<hex>[0-9A-Fa-f]{32,})|(?P<base64>[\w\/+-]{16,}={0,2})`)

func TestMayHoldEncoded(t *testing.T) {
	for s, want := range map[string]bool{
		"":                        false,
		"info":                    false,
		"8080":                    false,
		"db.shop.svc":             false,
		"--listen=:8080":          false,
		"checkout-v2,search":      false,
		"https://github.com/acme": false,
		"/etc/envoy/envoy.yaml":   true, // "/etc/envoy/envoy" could be base64
		"abcdefghijklmno":         false,
		"abcdefghijklmnop":        true,
		"a%2Fb":                   true,
		"100%":                    false,
		"50%z1":                   false,
		`\u0041`:                  true,
		`\U0041`:                  true,
		"U+0041":                  true,
		base64.StdEncoding.EncodeToString([]byte("token: x")):        false, // 12 characters: too short for gitleaks too
		base64.StdEncoding.EncodeToString([]byte("token: abcdefgh")): true,
	} {
		if got := mayHoldEncoded(s); got != want {
			t.Errorf("mayHoldEncoded(%q) = %v, want %v", s, got, want)
		}
		if encodedSegment.MatchString(s) && !mayHoldEncoded(s) {
			t.Errorf("gitleaks finds an encoded segment in %q but mayHoldEncoded does not", s)
		}
	}
}

func FuzzMayHoldEncoded(f *testing.F) {
	for _, s := range []string{"a%2Fb", `\u0041`, "U+0041 U+0042", "0123456789abcdef0123456789abcdef", "a/b+c-d_e/f+g-h_", "é%C3%A9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if encodedSegment.MatchString(s) && !mayHoldEncoded(s) {
			t.Errorf("gitleaks finds an encoded segment in %q but mayHoldEncoded does not", s)
		}
	})
}

// eachValueAlone is the reference Scan is held to: each value of obj scanned on its
// own, and with its name in front, by gitleaks with all its default rules and
// decoding, as gitleaks would scan a file holding just that.
func eachValueAlone(t *testing.T, obj map[string]interface{}) []Finding {
	t.Helper()
	targets, _ := targetsOf(obj)
	var out []Finding
	for _, tg := range targets {
		text := tg.value + "\n"
		if tg.name != "" {
			text += tg.name + tg.sep + tg.value + "\n"
		}
		for _, m := range detector.DetectString(text) {
			secret := m.Secret
			if secret == "" {
				secret = tg.value
			}
			out = append(out, Finding{Location: tg.location, Container: tg.container, Key: tg.key, RuleID: m.RuleID, Description: m.Description, Fingerprint: Redact(secret)})
		}
	}
	return unique(out)
}

// Scanning each value with only the rules its keywords call for, and without decoding
// when it holds no encoded segment, finds what gitleaks finds in each value alone with
// all rules and decoding.
func TestSplitScanMatchesDecodingScan(t *testing.T) {
	if err := Load(); err != nil {
		t.Fatal(err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	var env []interface{}
	for i, v := range append(append([]string{}, allSecrets...), "info", "8080", "/etc/app/config.yaml", b64("token: "+githubPAT),
		b64(b64("password="+dbPassword)), "%67%68%70%5F"+githubPAT[4:], fmt.Sprintf("%x", "secret="+stripeKey), "plain words only") {
		env = append(env, envVar(fmt.Sprintf("VAR_%d", i), v), envVar([]string{"DB_PASSWORD", "API_TOKEN", "GITHUB_TOKEN"}[i%3], v))
	}
	obj := deployment(map[string]interface{}{"containers": list(
		container("app", map[string]interface{}{"env": env, "args": list("--token", githubPAT, "--password", dbPassword, "-c", "/etc/envoy/envoy.yaml")}),
		container("sidecar", map[string]interface{}{"command": list("sh", "-c", "curl -H 'Authorization: token "+githubPAT+"' https://api.github.com")}),
	)})
	want := eachValueAlone(t, obj)
	if len(want) < len(allSecrets) {
		t.Fatalf("the decoding scan found only %d credentials:\n%s", len(want), dump(want))
	}
	if got := Scan(obj); !reflect.DeepEqual(got, want) {
		t.Errorf("Scan() =\n%s\nwant (one scan with decoding)\n%s", dump(got), dump(want))
	}
}

// A detector restricted to the rules whose keywords occur in a text finds in it what
// the full rule set finds.
func TestRuleSetsFindWhatAllRulesFind(t *testing.T) {
	if err := Load(); err != nil {
		t.Fatal(err)
	}
	full, err := newDetector(0)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"", "info\nLOG_LEVEL=info\n\n8080\nPORT=8080\n", "/etc/envoy/envoy.yaml\n-c=/etc/envoy/envoy.yaml\n",
		"PASSWORD=" + dbPassword + "\nAPI_KEY=" + dbPassword + "\nToKeN: " + dbPassword + "\n",
		"curl -H 'Authorization: token " + githubPAT + "' https://api.github.com\n",
		"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7yn3bRHQ5FHMQ5ufH\n-----END RSA PRIVATE KEY-----\n",
		strings.Join(allSecrets, "\n\n") + "\n", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY9\n",
	}
	// Every keyword of every rule, next to a plausible value.
	for k := range detector.Config.Keywords {
		texts = append(texts, k+"="+dbPassword+"\n"+strings.ToUpper(k)+"_"+githubPAT[4:]+"\n")
	}
	norm := func(fs []report.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, fmt.Sprintf("%s %d:%d-%d:%d %s", f.RuleID, f.StartLine, f.StartColumn, f.EndLine, f.EndColumn, Redact(f.Secret)))
		}
		slices.Sort(out)
		return out
	}
	nFound := 0
	for _, text := range texts {
		d := plainRules.detectorFor(text)
		if len(full.DetectString(text)) > 0 {
			nFound++
		}
		if got, want := norm(d.DetectString(text)), norm(full.DetectString(text)); !slices.Equal(got, want) {
			t.Errorf("on %q the rules %v found\n%v\nall rules found\n%v", text, slices.Sorted(maps.Keys(d.Config.Rules)), got, want)
		}
	}
	if nFound < 10 {
		t.Errorf("only %d of %d texts have findings: the comparison proves little", nFound, len(texts))
	}
	if d := plainRules.detectorFor(texts[1]); len(d.Config.Rules) > 2 {
		t.Errorf("a text without keywords gets %d rules, want only those without keywords", len(d.Config.Rules))
	}
}
