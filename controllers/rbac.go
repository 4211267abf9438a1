package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/findings"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/rbacrisk"
	"github.com/kubetrail/kubetrail/internal/workload"
)

const rbacGroup = "rbac.authorization.k8s.io"

// dependentKinds are the workloads listed as running as a service account.
var dependentKinds = []struct{ group, version, kind string }{
	{"apps", "v1", "Deployment"},
	{"apps", "v1", "StatefulSet"},
	{"apps", "v1", "DaemonSet"},
	{"batch", "v1", "Job"},
	{"batch", "v1", "CronJob"},
	{"", "v1", "Pod"},
}

// controlPlaneSubjects are the exact identities whose grants are the cluster's own:
// kube-controller-manager's, the scheduler's, kube-proxy's and the apiserver's users,
// kube-controller-manager's controllers' service accounts, and system:masters (whose
// members hold every permission whatever is bound to them). Exact names only: a
// system:* prefix or all of kube-system is something an RBAC writer can choose
// (a binding to system:nodes makes every kubelet cluster-admin, one to
// system:bootstrappers every bootstrap token), and every such grant is recorded.
var controlPlaneSubjects = func() map[rbacrisk.Subject]bool {
	m := map[rbacrisk.Subject]bool{{Kind: rbacrisk.KindGroup, Name: "system:masters"}: true}
	for _, u := range policy.SystemUsernames() {
		if ns, name, ok := serviceAccountOf(u); ok {
			m[rbacrisk.Subject{Kind: rbacrisk.KindServiceAccount, Namespace: ns, Name: name}] = true
			continue
		}
		m[rbacrisk.Subject{Kind: rbacrisk.KindUser, Name: u}] = true
	}
	return m
}()

// serviceAccountOf splits "system:serviceaccount:<ns>:<name>".
func serviceAccountOf(username string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(username, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}

// systemSubject reports whether s is one of the control plane's exact identities.
func systemSubject(s rbacrisk.Subject) bool {
	return controlPlaneSubjects[rbacrisk.Subject{Kind: s.Kind, Namespace: s.Namespace, Name: s.Name}]
}

// severe keeps the Critical and High risks.
func severe(rs []rbacrisk.Risk) []rbacrisk.Risk {
	var out []rbacrisk.Risk
	for _, r := range rs {
		if r.Severity.Rank() >= rbacrisk.High.Rank() {
			out = append(out, r)
		}
	}
	return out
}

// The RBAC kinds are cached typed (newObject), so a snapshot is built from the
// cache's own objects without conversion. Lists are read without copies: the snapshot
// shares memory with the cache and must not be modified (aggregationGrants copies what
// it edits).

func (r *TraceReconciler) roles(ctx context.Context, namespace string) ([]rbacv1.Role, error) {
	l := &rbacv1.RoleList{}
	if err := r.Live.List(ctx, l, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing Roles: %w", err)
	}
	return l.Items, nil
}

// clusterRoles lists the ClusterRoles from the cache.
func (r *TraceReconciler) clusterRoles(ctx context.Context) ([]rbacv1.ClusterRole, error) {
	l := &rbacv1.ClusterRoleList{}
	if err := r.Live.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing ClusterRoles: %w", err)
	}
	return l.Items, nil
}

func (r *TraceReconciler) roleBindings(ctx context.Context, namespace string) ([]rbacv1.RoleBinding, error) {
	l := &rbacv1.RoleBindingList{}
	if err := r.Live.List(ctx, l, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing RoleBindings: %w", err)
	}
	return l.Items, nil
}

func (r *TraceReconciler) clusterRoleBindings(ctx context.Context) ([]rbacv1.ClusterRoleBinding, error) {
	l := &rbacv1.ClusterRoleBindingList{}
	if err := r.Live.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing ClusterRoleBindings: %w", err)
	}
	return l.Items, nil
}

// rbacSnapshot reads from the cache the RBAC objects a reconcile of an object of kind
// in namespace needs: the roles a binding can reference (a RoleBinding: the Roles of
// its namespace and the ClusterRoles; a ClusterRoleBinding: the ClusterRoles), and for
// a ClusterRole, which may feed aggregated ClusterRoles, the ClusterRoles and every
// binding. A binding's reconcile so costs the same however many bindings the cluster
// has. The cache is read through the same informers the reconcilers watch, so the
// snapshot is never behind the event that triggered the reconcile.
func (r *TraceReconciler) rbacSnapshot(ctx context.Context, kind, namespace string) (rbacrisk.Snapshot, error) {
	var s rbacrisk.Snapshot
	var err error
	if kind == "RoleBinding" {
		if s.Roles, err = r.roles(ctx, namespace); err != nil {
			return s, err
		}
	}
	if s.ClusterRoles, err = r.clusterRoles(ctx); err != nil {
		return s, err
	}
	if kind != "ClusterRole" {
		return s, nil
	}
	if s.RoleBindings, err = r.roleBindings(ctx, ""); err != nil {
		return s, err
	}
	s.ClusterRoleBindings, err = r.clusterRoleBindings(ctx)
	return s, err
}

// reconcileRBAC records the risky permissions an RBAC object hands out. A binding's
// record gets one RBACEscalation finding per subject it grants a Critical or High risk;
// a ClusterRole that feeds aggregated ClusterRoles gets one per subject bound to them
// that holds a risk through it. The control plane's exact identities and the bootstrap
// RBAC objects (by their kubernetes.io/bootstrapping label) are left out. Workloads are not watched for this: the dependents of a finding are
// refreshed on the binding's next reconcile (any change, or the cache's resync).
func (r *TraceReconciler) reconcileRBAC(ctx context.Context, s *recordState) (ctrl.Result, error) {
	kind := r.Kind.GVK.Kind
	// The bootstrap roles and bindings are recognised by their label, never by a
	// system: name, which anyone who may write RBAC can choose.
	if r.Kind.GVK.Group != rbacGroup || s.live.obj.GetLabels()["kubernetes.io/bootstrapping"] == "rbac-defaults" {
		return ctrl.Result{}, nil
	}
	if kind != "RoleBinding" && kind != "ClusterRoleBinding" && kind != "ClusterRole" {
		// A Role grants through its RoleBindings, whose records carry the findings.
		return ctrl.Result{}, nil
	}
	snap, err := r.rbacSnapshot(ctx, kind, s.live.obj.GetNamespace())
	if err != nil {
		return ctrl.Result{}, err
	}
	var grants []rbacrisk.Grant
	switch kind {
	case "ClusterRoleBinding":
		b, err := liveAs[rbacv1.ClusterRoleBinding](s.live)
		if err != nil {
			return ctrl.Result{}, err
		}
		via := "ClusterRoleBinding/" + b.Name + " -> " + b.RoleRef.Kind + "/" + b.RoleRef.Name
		grants = grantsOf(rbacrisk.Snapshot{Roles: snap.Roles, ClusterRoles: snap.ClusterRoles, ClusterRoleBindings: []rbacv1.ClusterRoleBinding{b}}, via)
	case "RoleBinding":
		b, err := liveAs[rbacv1.RoleBinding](s.live)
		if err != nil {
			return ctrl.Result{}, err
		}
		via := "RoleBinding/" + b.Namespace + "/" + b.Name + " -> " + b.RoleRef.Kind + "/" + b.RoleRef.Name
		grants = grantsOf(rbacrisk.Snapshot{Roles: snap.Roles, ClusterRoles: snap.ClusterRoles, RoleBindings: []rbacv1.RoleBinding{b}}, via)
	case "ClusterRole":
		cr, err := liveAs[rbacv1.ClusterRole](s.live)
		if err != nil {
			return ctrl.Result{}, err
		}
		grants = aggregationGrants(cr, snap)
	}

	origin := s.origin()
	for _, g := range grants {
		if systemSubject(g.Subject) {
			continue
		}
		risks := severe(g.Risks)
		if len(risks) == 0 {
			continue
		}
		deps, err := r.dependents(ctx, g.Subject)
		if err != nil {
			return ctrl.Result{}, err
		}
		s.current = append(s.current, escalationFinding(g.Subject, risks, g.Via, deps, origin))
	}
	return ctrl.Result{}, nil
}

// liveAs returns the live object as T: the object read from the cache when it is
// already a T (the RBAC kinds are cached typed), else converted from its content.
func liveAs[T any](live *liveObject) (T, error) {
	if p, ok := any(live.obj).(*T); ok {
		return *p, nil
	}
	var x T
	err := runtime.DefaultUnstructuredConverter.FromUnstructured(live.content, &x)
	return x, err
}

// grantsOf evaluates a snapshot holding a single binding: what that binding grants.
func grantsOf(snap rbacrisk.Snapshot, via string) []rbacrisk.Grant {
	risks := rbacrisk.Evaluate(snap)
	subjects := make([]rbacrisk.Subject, 0, len(risks))
	for subj := range risks {
		subjects = append(subjects, subj)
	}
	sort.Slice(subjects, func(i, j int) bool { return subjects[i].String() < subjects[j].String() })
	out := make([]rbacrisk.Grant, 0, len(subjects))
	for _, subj := range subjects {
		out = append(out, rbacrisk.Grant{Subject: subj, Risks: risks[subj], Via: via})
	}
	return out
}

// aggregationGrants returns what the ClusterRole cr adds, through the aggregated
// ClusterRoles that select it, to the subjects bound to them: the escalations from a
// snapshot without cr (and without cr's rules in the aggregates' stored rules, where
// the aggregation controller copies them) to the snapshot with it.
func aggregationGrants(cr rbacv1.ClusterRole, snap rbacrisk.Snapshot) []rbacrisk.Grant {
	aggs := aggregatesOf(cr.Name, cr.Labels, snap.ClusterRoles)
	if len(aggs) == 0 {
		return nil
	}
	after := rbacrisk.Snapshot{Roles: snap.Roles}
	for _, b := range snap.ClusterRoleBindings {
		if b.RoleRef.Kind == "ClusterRole" && aggs[b.RoleRef.Name] {
			after.ClusterRoleBindings = append(after.ClusterRoleBindings, b)
		}
	}
	for _, b := range snap.RoleBindings {
		if b.RoleRef.Kind == "ClusterRole" && aggs[b.RoleRef.Name] {
			after.RoleBindings = append(after.RoleBindings, b)
		}
	}
	if len(after.ClusterRoleBindings)+len(after.RoleBindings) == 0 {
		return nil
	}
	before := after
	for _, x := range snap.ClusterRoles {
		if x.Name == cr.Name {
			continue
		}
		after.ClusterRoles = append(after.ClusterRoles, x)
		if aggs[x.Name] {
			x = *x.DeepCopy()
			x.Rules = withoutRules(x.Rules, cr.Rules)
		}
		before.ClusterRoles = append(before.ClusterRoles, x)
	}
	// The live object, not the snapshot's copy, is what this reconcile is about.
	after.ClusterRoles = append(after.ClusterRoles, cr)
	return rbacrisk.Escalations(before, after)
}

// aggregatesOf returns the names of the aggregated ClusterRoles that pick up the
// ClusterRole name (with labels), directly or through other aggregates.
func aggregatesOf(name string, lbls map[string]string, crs []rbacv1.ClusterRole) map[string]bool {
	members := map[string]map[string]string{name: lbls}
	aggs := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for i := range crs {
			a := &crs[i]
			if a.AggregationRule == nil || aggs[a.Name] || a.Name == name {
				continue
			}
			if selectsAny(a.AggregationRule, members) {
				aggs[a.Name] = true
				members[a.Name] = a.Labels
				changed = true
			}
		}
	}
	return aggs
}

func selectsAny(rule *rbacv1.AggregationRule, members map[string]map[string]string) bool {
	for i := range rule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&rule.ClusterRoleSelectors[i])
		if err != nil || sel.Empty() {
			continue
		}
		for _, l := range members {
			if sel.Matches(labels.Set(l)) {
				return true
			}
		}
	}
	return false
}

// membersOf returns the ClusterRoles an aggregated ClusterRole picks up, directly or
// through member aggregates.
func membersOf(agg string, crs []rbacv1.ClusterRole) []string {
	byName := map[string]*rbacv1.ClusterRole{}
	for i := range crs {
		byName[crs[i].Name] = &crs[i]
	}
	seen := map[string]bool{agg: true}
	queue := []string{agg}
	var out []string
	for len(queue) > 0 {
		a := byName[queue[0]]
		queue = queue[1:]
		if a == nil || a.AggregationRule == nil {
			continue
		}
		for i := range crs {
			m := &crs[i]
			if seen[m.Name] || !selectsAny(a.AggregationRule, map[string]map[string]string{m.Name: m.Labels}) {
				continue
			}
			seen[m.Name] = true
			out = append(out, m.Name)
			queue = append(queue, m.Name)
		}
	}
	sort.Strings(out)
	return out
}

func withoutRules(rules, remove []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		drop := false
		for _, x := range remove {
			if equality.Semantic.DeepEqual(r, x) {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, r)
		}
	}
	return out
}

// escalationFinding is the RBACEscalation finding of one subject.
func escalationFinding(subj rbacrisk.Subject, risks []rbacrisk.Risk, via string, deps []v1alpha1.ObjectReference, origin v1alpha1.ChangeOrigin) v1alpha1.Finding {
	var perms, rules []string
	var sevs []v1alpha1.Severity
	for _, r := range risks {
		perms = append(perms, fmt.Sprintf("%s (%s) at %s: %s", r.Rule, r.Severity, r.Scope, r.Grant))
		rules = append(rules, r.Rule+"@"+r.Scope)
		sevs = append(sevs, v1alpha1.Severity(r.Severity))
	}
	sort.Strings(rules)
	var names []string
	for _, r := range risks {
		names = append(names, r.Rule)
	}
	msg := fmt.Sprintf("%s gains %s through %s", subj, strings.Join(uniqueSorted(names), ", "), via)
	if len(deps) > 0 {
		var ds []string
		for _, d := range deps {
			ds = append(ds, d.Kind+" "+d.Namespace+"/"+d.Name)
		}
		msg += fmt.Sprintf("; %d workload(s) run as it: %s", len(deps), strings.Join(ds, ", "))
	}
	return v1alpha1.Finding{
		ID:           findings.ID("rbac", append([]string{subj.String()}, rules...)...),
		Type:         v1alpha1.FindingRBACEscalation,
		Severity:     findings.MaxSeverity(sevs...),
		Message:      truncate(msg, 4096),
		Subject:      subj.String(),
		Permissions:  perms,
		Dependents:   deps,
		Rule:         strings.Join(uniqueSorted(names), ","),
		IntroducedBy: origin,
	}
}

// dependents lists the workloads running as a service account subject (for the group
// of a namespace's service accounts, every workload of the namespace). Controller-owned
// workloads (a Deployment's Pods) are represented by their owner.
func (r *TraceReconciler) dependents(ctx context.Context, subj rbacrisk.Subject) ([]v1alpha1.ObjectReference, error) {
	var ns, sa string
	switch {
	case subj.Kind == rbacrisk.KindServiceAccount:
		ns, sa = subj.Namespace, subj.Name
	case subj.Kind == rbacrisk.KindGroup && strings.HasPrefix(subj.Name, rbacrisk.GroupAllServiceAccounts+":"):
		ns = strings.TrimPrefix(subj.Name, rbacrisk.GroupAllServiceAccounts+":")
	default:
		return nil, nil
	}
	var out []v1alpha1.ObjectReference
	for _, k := range dependentKinds {
		gvk := schema.GroupVersionKind{Group: k.group, Version: k.version, Kind: k.kind}
		list := newList(r.Scheme, gvk)
		if err := r.Live.List(ctx, list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing %ss in %s: %w", k.kind, ns, err)
		}
		items, err := listItems(list)
		if err != nil {
			return nil, err
		}
		for _, o := range items {
			if _, owned := controllerRef(o); owned || skipped(k.kind, o) {
				// The workload a person changes (a Deployment, not its ReplicaSets and Pods).
				continue
			}
			if sa != "" {
				content, err := contentOf(o, gvk)
				if err != nil || workload.ServiceAccountName(content) != sa {
					continue
				}
			}
			out = append(out, v1alpha1.ObjectReference{APIVersion: gvk.GroupVersion().String(), Kind: k.kind, Namespace: o.GetNamespace(), Name: o.GetName()})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > maxDependents {
		out = out[:maxDependents]
	}
	return out, nil
}

// rbacWatches adds the watches that keep RBAC findings current: bindings are
// re-reconciled when the roles they reference change (directly or through
// aggregation), and ClusterRoles feeding an aggregate when bindings to the aggregate
// or the aggregate itself change.
func (r *TraceReconciler) rbacWatches(b *builder.Builder) *builder.Builder {
	if r.Kind.GVK.Group != rbacGroup {
		return b
	}
	switch r.Kind.GVK.Kind {
	case "ClusterRoleBinding":
		b = b.Watches(&rbacv1.ClusterRole{}, handler.EnqueueRequestsFromMapFunc(r.bindingsOfClusterRole))
	case "RoleBinding":
		b = b.Watches(&rbacv1.ClusterRole{}, handler.EnqueueRequestsFromMapFunc(r.bindingsOfClusterRole)).
			Watches(&rbacv1.Role{}, handler.EnqueueRequestsFromMapFunc(r.bindingsOfRole))
	case "ClusterRole":
		b = b.Watches(&rbacv1.ClusterRoleBinding{}, handler.EnqueueRequestsFromMapFunc(r.membersOfBoundAggregate)).
			Watches(&rbacv1.RoleBinding{}, handler.EnqueueRequestsFromMapFunc(r.membersOfBoundAggregate)).
			Watches(&rbacv1.ClusterRole{}, handler.EnqueueRequestsFromMapFunc(r.membersOfAggregate))
	}
	return b
}

// bindingsOfClusterRole maps a ClusterRole to the bindings of this kind referencing it
// or an aggregate that picks it up.
func (r *TraceReconciler) bindingsOfClusterRole(ctx context.Context, o client.Object) []reconcile.Request {
	log := logf.FromContext(ctx)
	crs, err := r.clusterRoles(ctx)
	if err != nil {
		log.Error(err, "Listing ClusterRoles to find the bindings of a changed ClusterRole")
		return nil
	}
	names := aggregatesOf(o.GetName(), o.GetLabels(), crs)
	names[o.GetName()] = true
	return r.bindingsReferencing(ctx, "ClusterRole", "", names)
}

// bindingsOfRole maps a Role to the RoleBindings of its namespace referencing it.
func (r *TraceReconciler) bindingsOfRole(ctx context.Context, o client.Object) []reconcile.Request {
	return r.bindingsReferencing(ctx, "Role", o.GetNamespace(), map[string]bool{o.GetName(): true})
}

func (r *TraceReconciler) bindingsReferencing(ctx context.Context, roleKind, namespace string, names map[string]bool) []reconcile.Request {
	type bindingRef struct {
		key     types.NamespacedName
		roleRef rbacv1.RoleRef
	}
	var refs []bindingRef
	var err error
	switch r.Kind.GVK.Kind {
	case "RoleBinding":
		var bs []rbacv1.RoleBinding
		bs, err = r.roleBindings(ctx, namespace)
		for i := range bs {
			refs = append(refs, bindingRef{client.ObjectKeyFromObject(&bs[i]), bs[i].RoleRef})
		}
	case "ClusterRoleBinding":
		var bs []rbacv1.ClusterRoleBinding
		bs, err = r.clusterRoleBindings(ctx)
		for i := range bs {
			refs = append(refs, bindingRef{client.ObjectKeyFromObject(&bs[i]), bs[i].RoleRef})
		}
	}
	if err != nil {
		logf.FromContext(ctx).Error(err, "Listing bindings of a changed role", "kind", r.Kind.GVK.Kind)
		return nil
	}
	var out []reconcile.Request
	for _, b := range refs {
		if b.roleRef.Kind == roleKind && names[b.roleRef.Name] {
			out = append(out, reconcile.Request{NamespacedName: b.key})
		}
	}
	return out
}

// membersOfBoundAggregate maps a binding of an aggregated ClusterRole to the ClusterRoles
// the aggregate picks up: who is bound to the aggregate is what their findings say.
func (r *TraceReconciler) membersOfBoundAggregate(ctx context.Context, o client.Object) []reconcile.Request {
	var ref rbacv1.RoleRef
	switch b := o.(type) {
	case *rbacv1.RoleBinding:
		ref = b.RoleRef
	case *rbacv1.ClusterRoleBinding:
		ref = b.RoleRef
	default:
		return nil
	}
	if ref.Kind != "ClusterRole" {
		return nil
	}
	return r.membersRequests(ctx, ref.Name)
}

// membersOfAggregate maps an aggregated ClusterRole to the ClusterRoles it picks up.
func (r *TraceReconciler) membersOfAggregate(ctx context.Context, o client.Object) []reconcile.Request {
	cr, ok := o.(*rbacv1.ClusterRole)
	if !ok || cr.AggregationRule == nil {
		return nil
	}
	return r.membersRequests(ctx, o.GetName())
}

func (r *TraceReconciler) membersRequests(ctx context.Context, agg string) []reconcile.Request {
	crs, err := r.clusterRoles(ctx)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Listing ClusterRoles to find the members of an aggregate")
		return nil
	}
	var out []reconcile.Request
	for _, m := range membersOf(agg, crs) {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: m}})
	}
	return out
}
