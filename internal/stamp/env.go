package stamp

import (
	"regexp"
	"strings"

	"github.com/kubetrail/kubetrail/internal/provenance"
)

// CI systems FromEnv recognises, as it names them.
const (
	CIGitHubActions = "GitHub Actions"
	CIGitLab        = "GitLab CI"
	CIJenkins       = "Jenkins"
	CITekton        = "Tekton"
)

// githubPullRef is the ref GitHub Actions checks out for a pull_request event.
var githubPullRef = regexp.MustCompile(`^refs/pull/([0-9]+)/(merge|head)$`)

// FromEnv reads the provenance a CI system exposes in its environment and names the CI
// system ("" when none is recognised, with an empty Provenance). Fields the CI does not
// provide stay empty; a detected CI sets the actor to "pipeline". The values are not
// validated here: Stamp validates whatever it writes.
//
// GitHub Actions (GITHUB_ACTIONS=true):
//   - commit: GITHUB_SHA. For pull_request events this is the test merge commit
//     (refs/pull/N/merge), not the head of the branch; pass
//     --commit "${{ github.event.pull_request.head.sha }}" to record the head instead.
//   - repository: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY
//   - pipeline run: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID
//   - pull request: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY/pull/N when GITHUB_REF is
//     refs/pull/N/merge (pull_request events only)
//
// GitLab CI (GITLAB_CI=true): commit CI_COMMIT_SHA, repository CI_PROJECT_URL, pipeline
// run CI_PIPELINE_URL, merge request $CI_MERGE_REQUEST_PROJECT_URL/-/merge_requests/$CI_MERGE_REQUEST_IID
// (just the IID when the project URL is missing; merge request pipelines only).
//
// Jenkins (JENKINS_URL set; the git plugin exports the GIT_* variables): commit
// GIT_COMMIT, repository GIT_URL, pipeline run BUILD_URL, pull request CHANGE_URL or
// CHANGE_ID (multibranch pull request builds).
//
// Tekton has no variables of its own in a step's environment, so the Task that runs
// `kubectl trail stamp` must pass them in from its params and context:
//
//	env:
//	- name: TEKTON_PIPELINE_RUN            # or PIPELINE_RUN_NAME; required for detection
//	  value: $(context.pipelineRun.name)
//	- name: TEKTON_PIPELINE_RUN_NAMESPACE  # optional: the run is recorded as namespace/name
//	  value: $(context.pipelineRun.namespace)
//	- name: TEKTON_DASHBOARD_URL           # optional: the run is recorded as its dashboard URL
//	  value: https://tekton.example.com
//	- name: GIT_COMMIT                     # the full SHA, e.g. from git-clone's commit result
//	  value: $(params.revision)
//	- name: GIT_URL
//	  value: $(params.url)
//	- name: PULL_REQUEST_URL               # optional, or PULL_REQUEST_NUMBER
//	  value: $(params.pull-request-url)
//
// Approvers are never in a CI environment; pass them with --approver.
func FromEnv(getenv func(string) string) (provenance.Provenance, string) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	var p provenance.Provenance
	var ci string
	switch {
	case env("GITHUB_ACTIONS") == "true":
		ci = CIGitHubActions
		p.Commit = env("GITHUB_SHA")
		server, repo := strings.TrimRight(env("GITHUB_SERVER_URL"), "/"), env("GITHUB_REPOSITORY")
		if server == "" && repo != "" {
			server = "https://github.com"
		}
		if repo != "" {
			p.Repository = server + "/" + repo
			if id := env("GITHUB_RUN_ID"); id != "" {
				p.PipelineRun = p.Repository + "/actions/runs/" + id
			}
			if m := githubPullRef.FindStringSubmatch(env("GITHUB_REF")); m != nil {
				p.PullRequest = p.Repository + "/pull/" + m[1]
			}
		}
	case env("GITLAB_CI") == "true":
		ci = CIGitLab
		p.Commit = env("CI_COMMIT_SHA")
		p.Repository = env("CI_PROJECT_URL")
		p.PipelineRun = env("CI_PIPELINE_URL")
		if iid := env("CI_MERGE_REQUEST_IID"); iid != "" {
			if u := strings.TrimRight(env("CI_MERGE_REQUEST_PROJECT_URL"), "/"); u != "" {
				p.PullRequest = u + "/-/merge_requests/" + iid
			} else {
				p.PullRequest = iid
			}
		}
	case env("JENKINS_URL") != "":
		ci = CIJenkins
		p.Commit = env("GIT_COMMIT")
		p.Repository = env("GIT_URL")
		p.PipelineRun = env("BUILD_URL")
		p.PullRequest = firstNonEmpty(env("CHANGE_URL"), env("CHANGE_ID"))
	case env("TEKTON_PIPELINE_RUN") != "" || env("PIPELINE_RUN_NAME") != "":
		ci = CITekton
		name := firstNonEmpty(env("TEKTON_PIPELINE_RUN"), env("PIPELINE_RUN_NAME"))
		ns := env("TEKTON_PIPELINE_RUN_NAMESPACE")
		switch dash := strings.TrimRight(env("TEKTON_DASHBOARD_URL"), "/"); {
		case dash != "" && ns != "":
			p.PipelineRun = dash + "/#/namespaces/" + ns + "/pipelineruns/" + name
		case ns != "":
			p.PipelineRun = ns + "/" + name
		default:
			p.PipelineRun = name
		}
		p.Commit = env("GIT_COMMIT")
		p.Repository = env("GIT_URL")
		p.PullRequest = firstNonEmpty(env("PULL_REQUEST_URL"), env("PULL_REQUEST_NUMBER"))
	default:
		return provenance.Provenance{}, ""
	}
	p.Actor = provenance.ActorPipeline
	return p, ci
}

// Override returns base with every non-empty field of over replacing base's: flags
// override what FromEnv detected.
func Override(base, over provenance.Provenance) provenance.Provenance {
	out := base
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&out.Commit, over.Commit)
	set(&out.Repository, over.Repository)
	set(&out.PullRequest, over.PullRequest)
	set(&out.PipelineRun, over.PipelineRun)
	if len(over.Approvers) > 0 {
		out.Approvers = append([]string(nil), over.Approvers...)
	}
	set(&out.Actor, over.Actor)
	set(&out.Agent, over.Agent)
	set(&out.Source, over.Source)
	set(&out.Path, over.Path)
	set(&out.Signature, over.Signature)
	set(&out.BreakGlass, over.BreakGlass)
	return out
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
