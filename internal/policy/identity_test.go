package policy_test

import (
	"testing"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
)

func TestIsSystem(t *testing.T) {
	tests := map[string]struct {
		id   policy.Identity
		want bool
	}{
		"the apiserver":                                 {policy.Identity{Username: "system:apiserver"}, true},
		"the controller manager":                        {policy.Identity{Username: "system:kube-controller-manager"}, true},
		"the scheduler":                                 {policy.Identity{Username: "system:kube-scheduler"}, true},
		"a kube-system controller":                      {policy.Identity{Username: "system:serviceaccount:kube-system:replicaset-controller"}, true},
		"a third-party controller in kube-system":       {policy.Identity{Username: "system:serviceaccount:kube-system:aws-load-balancer-controller"}, false},
		"a node name without the nodes group":           {policy.Identity{Username: "system:node:worker-1"}, false},
		"anyone claiming the nodes group":               {policy.Identity{Username: "mallory", Groups: []string{"system:nodes"}}, false},
		"a kubelet":                                     {policy.Identity{Username: "system:node:worker-1", Groups: []string{"system:nodes"}}, true},
		"a kube-system service account group":           {policy.Identity{Username: "someone", Groups: []string{"system:serviceaccounts:kube-system"}}, false},
		"a cluster-admin in system:masters":             {policy.Identity{Username: "kubernetes-admin", Groups: []string{"system:masters", "system:authenticated"}}, false},
		"a human":                                       {human, false},
		"the pipeline":                                  {pipeline, false},
		"a service account of another namespace":        {policy.Identity{Username: "system:serviceaccount:default:kube-system"}, false},
		"a namespace that only starts like kube-system": {policy.Identity{Username: "system:serviceaccount:kube-systemd:x"}, false},
		"a truncated service account name":              {policy.Identity{Username: "system:serviceaccount:kube-system"}, false},
		"system users are case-sensitive":               {policy.Identity{Username: "System:Apiserver"}, false},
		"a look-alike of the controller manager":        {policy.Identity{Username: "system:kube-controller-manager-debug"}, false},
		"every authenticated user":                      {policy.Identity{Username: "bob", Groups: []string{"system:authenticated", "system:serviceaccounts"}}, false},
		"anonymous":                                     {policy.Identity{Username: "system:anonymous", Groups: []string{"system:unauthenticated"}}, false},
		"nobody":                                        {policy.Identity{}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := policy.IsSystem(tc.id); got != tc.want {
				t.Errorf("IsSystem(%+v) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	user := func(n string) v1alpha1.Subject { return v1alpha1.Subject{Kind: v1alpha1.SubjectUser, Name: n} }
	group := func(n string) v1alpha1.Subject { return v1alpha1.Subject{Kind: v1alpha1.SubjectGroup, Name: n} }
	sa := func(ns, n string) v1alpha1.Subject {
		return v1alpha1.Subject{Kind: v1alpha1.SubjectServiceAccount, Namespace: ns, Name: n}
	}
	id := func(name string, groups ...string) policy.Identity {
		return policy.Identity{Username: name, Groups: groups}
	}
	tests := map[string]struct {
		s    v1alpha1.Subject
		id   policy.Identity
		want bool
	}{
		"a user by name":                                  {user("alice"), human, true},
		"user names are case-sensitive":                   {user("Alice"), human, false},
		"a user subject does not match a group":           {user("devs"), human, false},
		"a group by membership":                           {group("devs"), human, true},
		"a group subject does not match a user":           {group("alice"), human, false},
		"no groups":                                       {group("devs"), id("alice"), false},
		"a service account":                               {sa("ci", "deployer"), pipeline, true},
		"a service account's implicit group":              {group("system:serviceaccounts:ci"), pipeline, true},
		"a service account of another namespace":          {sa("cd", "deployer"), pipeline, false},
		"a longer service account name":                   {sa("ci", "deployer"), id("system:serviceaccount:ci:deployer-2"), false},
		"a service account prefix of the name":            {sa("ci", "deploy"), pipeline, false},
		"every service account of a namespace":            {sa("ci", "*"), id("system:serviceaccount:ci:builder"), true},
		"the wildcard stays in its namespace":             {sa("ci", "*"), id("system:serviceaccount:cid:builder"), false},
		"a user named like the service account":           {sa("ci", "deployer"), id("deployer"), false},
		"a service account subject is not a user subject": {user("deployer"), pipeline, false},
		"an unknown subject kind":                         {v1alpha1.Subject{Kind: "Robot", Name: "alice"}, human, false},

		// Usernames only a misconfigured authenticator produces never match a service account.
		"no name":                         {sa("ci", "*"), id("system:serviceaccount:ci"), false},
		"an empty name":                   {sa("ci", "*"), id("system:serviceaccount:ci:"), false},
		"an empty namespace":              {sa("", "deployer"), id("system:serviceaccount::deployer"), false},
		"an empty namespace and wildcard": {sa("", "*"), id("system:serviceaccount::deployer"), false},
		"an extra segment":                {sa("ci", "*"), id("system:serviceaccount:ci:deployer:admin"), false},
		"an extra segment, exact name":    {sa("ci", "deployer:admin"), id("system:serviceaccount:ci:deployer:admin"), false},
		"the prefix in the middle":        {sa("ci", "deployer"), id("x-system:serviceaccount:ci:deployer"), false},
		"the plural prefix":               {sa("ci", "*"), id("system:serviceaccounts:ci:deployer"), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := policy.Matches(tc.s, tc.id); got != tc.want {
				t.Errorf("Matches(%+v, %+v) = %v, want %v", tc.s, tc.id, got, tc.want)
			}
			if got := policy.MatchesAny([]v1alpha1.Subject{user("nobody"), tc.s}, tc.id); got != tc.want {
				t.Errorf("MatchesAny = %v, want %v", got, tc.want)
			}
		})
	}
	if policy.MatchesAny(nil, human) {
		t.Error("MatchesAny(no subjects) = true")
	}
}
