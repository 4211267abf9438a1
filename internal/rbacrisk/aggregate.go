package rbacrisk

import (
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// sourcedRule is a PolicyRule together with the ClusterRole that defines it when
// it reached the role through aggregation; origin is empty for the role's own
// rules. Keeping the origin lets Via name the labelled role that caused an
// escalation, which is the object a reviewer has to look at.
type sourcedRule struct {
	rule   *rbacv1.PolicyRule
	origin string
}

// effectiveClusterRoles returns, per ClusterRole name, the rules the API server
// will eventually enforce. For aggregated roles that is the union of the rules of
// every ClusterRole matched by any selector (computed to a fixpoint, as repeated
// passes of the clusterrole-aggregation controller would converge) and the
// role's stored rules, which may be stale in either direction. The first
// ClusterRole of a given name wins, so duplicated input cannot mask a role.
func effectiveClusterRoles(crs []rbacv1.ClusterRole) map[string][]sourcedRule {
	byName := make(map[string]*rbacv1.ClusterRole, len(crs))
	names := make([]string, 0, len(crs))
	for i := range crs {
		n := crs[i].Name
		if n == "" {
			continue
		}
		if _, dup := byName[n]; dup {
			continue
		}
		byName[n] = &crs[i]
		names = append(names, n)
	}
	// The controller lists matches sorted by name; doing the same keeps Via
	// deterministic.
	sort.Strings(names)

	out := make(map[string][]sourcedRule, len(byName))
	members := make(map[string][]string) // aggregated role -> matched role names
	var aggregated []string
	for _, n := range names {
		cr := byName[n]
		own := make([]sourcedRule, 0, len(cr.Rules))
		for j := range cr.Rules {
			own = append(own, sourcedRule{rule: &cr.Rules[j]})
		}
		out[n] = own
		if cr.AggregationRule == nil {
			continue
		}
		aggregated = append(aggregated, n)
		seen := map[string]bool{}
		for si := range cr.AggregationRule.ClusterRoleSelectors {
			sel, err := metav1.LabelSelectorAsSelector(&cr.AggregationRule.ClusterRoleSelectors[si])
			if err != nil {
				// The controller errors out on an invalid selector and leaves the
				// role alone; the stored rules remain what is enforced.
				continue
			}
			for _, m := range names {
				if m == n || seen[m] {
					continue
				}
				if sel.Matches(labels.Set(byName[m].Labels)) {
					seen[m] = true
					members[n] = append(members[n], m)
				}
			}
		}
		sort.Strings(members[n])
	}
	if len(aggregated) == 0 {
		return out
	}

	stored := make(map[string][]sourcedRule, len(aggregated))
	for _, n := range aggregated {
		stored[n] = out[n]
	}
	// Each pass recomputes every aggregated role from the previous pass. Sets
	// only grow, so the loop converges; the bound guards against any mistake
	// turning into an endless loop on adversarial input (cycles are allowed).
	for pass := 0; pass <= len(aggregated)+1; pass++ {
		changed := false
		next := make(map[string][]sourcedRule, len(aggregated))
		for _, n := range aggregated {
			var rules []sourcedRule
			keys := map[string]bool{}
			for _, m := range members[n] {
				for _, sr := range out[m] {
					k := ruleKey(sr.rule)
					if keys[k] {
						continue
					}
					keys[k] = true
					origin := sr.origin
					if origin == "" {
						origin = m
					}
					rules = append(rules, sourcedRule{rule: sr.rule, origin: origin})
				}
			}
			for _, sr := range stored[n] {
				if k := ruleKey(sr.rule); !keys[k] {
					keys[k] = true
					rules = append(rules, sr)
				}
			}
			if len(rules) != len(out[n]) {
				changed = true
			}
			next[n] = rules
		}
		for n, r := range next {
			out[n] = r
		}
		if !changed {
			break
		}
	}
	return out
}

// ruleKey identifies a rule by content, treating nil and empty lists alike as
// the controller's semantic equality does.
func ruleKey(r *rbacv1.PolicyRule) string {
	var b strings.Builder
	for _, l := range [][]string{r.Verbs, r.APIGroups, r.Resources, r.ResourceNames, r.NonResourceURLs} {
		for _, s := range l {
			b.WriteString(s)
			b.WriteByte(0)
		}
		b.WriteByte(1)
	}
	return b.String()
}
