package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubetrail/kubetrail/internal/rbacrisk"
	"github.com/kubetrail/kubetrail/internal/report"
	"github.com/kubetrail/kubetrail/internal/tracked"
	"github.com/kubetrail/kubetrail/internal/workload"
)

// dependents answers "what depends on it" by looking in the cluster. It is best
// effort: what cannot be read becomes a note.
type dependents struct {
	c *cluster
	// workloads caches the workloads of a namespace.
	workloads map[string][]unstructured.Unstructured
	snapshot  *rbacrisk.Snapshot
	risks     map[rbacrisk.Subject][]rbacrisk.Risk
	notes     []string
}

func newDependents(c *cluster) *dependents {
	return &dependents{c: c, workloads: map[string][]unstructured.Unstructured{}}
}

func (d *dependents) note(format string, args ...interface{}) {
	d.notes = append(d.notes, fmt.Sprintf(format, args...))
}

// workloadKinds are the tracked kinds with a pod template.
var workloadKinds = func() []tracked.Kind {
	var out []tracked.Kind
	for _, k := range tracked.Default {
		if workload.IsWorkload(k.GVK.Kind) {
			out = append(out, k)
		}
	}
	return out
}()

// namespaceWorkloads lists the workloads of ns that no controller owns (a Deployment's
// Pods and a CronJob's Jobs are represented by their owner).
func (d *dependents) namespaceWorkloads(ctx context.Context, ns string) []unstructured.Unstructured {
	if w, ok := d.workloads[ns]; ok {
		return w
	}
	var out []unstructured.Unstructured
	for _, k := range workloadKinds {
		items, err := d.c.listAll(ctx, k.GVR(), ns, metav1.ListOptions{})
		if err != nil {
			d.note("cannot list %s in %s: %v", k.Resource, ns, err)
			continue
		}
		for i := range items {
			items[i].SetAPIVersion(k.GVK.GroupVersion().String())
			items[i].SetKind(k.GVK.Kind)
			if tracked.ControllerOwned(items[i].Object) {
				continue
			}
			out = append(out, items[i])
		}
	}
	d.workloads[ns] = out
	return out
}

// runningAs returns the workloads of ns running as ServiceAccount name (any
// ServiceAccount when name is "").
func (d *dependents) runningAs(ctx context.Context, ns, name, via string) []report.Workload {
	var out []report.Workload
	for _, w := range d.namespaceWorkloads(ctx, ns) {
		sa := workload.ServiceAccountName(w.Object)
		if name != "" && sa != name {
			continue
		}
		v := via
		if v == "" {
			v = "runs as ServiceAccount " + ns + "/" + sa
		}
		out = append(out, report.Workload{Kind: w.GetKind(), Namespace: ns, Name: w.GetName(), Via: v, Source: "live"})
	}
	return out
}

// referencing returns the workloads of ns that mount or reference the ConfigMap or
// Secret name.
func (d *dependents) referencing(ctx context.Context, kind, ns, name string) []report.Workload {
	var out []report.Workload
	for _, w := range d.namespaceWorkloads(ctx, ns) {
		if vias := podSpecReferences(workload.PodSpec(w.Object), kind, name); len(vias) > 0 {
			out = append(out, report.Workload{Kind: w.GetKind(), Namespace: ns, Name: w.GetName(),
				Via: strings.Join(vias, ", "), Source: "live"})
		}
	}
	return out
}

// podSpecReferences says how a pod spec uses the ConfigMap or Secret name: volumes
// (also projected), envFrom, env valueFrom and, for Secrets, imagePullSecrets.
func podSpecReferences(spec map[string]interface{}, kind, name string) []string {
	if spec == nil {
		return nil
	}
	var out []string
	field, nameKey, refKey, keyRefKey := "configMap", "name", "configMapRef", "configMapKeyRef"
	if kind == "Secret" {
		field, nameKey, refKey, keyRefKey = "secret", "secretName", "secretRef", "secretKeyRef"
	}
	vols, _, _ := unstructured.NestedSlice(spec, "volumes")
	for _, v := range vols {
		vm, _ := v.(map[string]interface{})
		vname, _ := vm["name"].(string)
		if n, _, _ := unstructured.NestedString(vm, field, nameKey); n == name {
			out = append(out, "volume "+vname)
		}
		sources, _, _ := unstructured.NestedSlice(vm, "projected", "sources")
		for _, s := range sources {
			sm, _ := s.(map[string]interface{})
			if n, _, _ := unstructured.NestedString(sm, field, "name"); n == name {
				out = append(out, "projected volume "+vname)
			}
		}
	}
	for _, c := range workload.Containers(spec) {
		cname := c.Name()
		envFrom, _, _ := unstructured.NestedSlice(c.Fields, "envFrom")
		for _, e := range envFrom {
			em, _ := e.(map[string]interface{})
			if n, _, _ := unstructured.NestedString(em, refKey, "name"); n == name {
				out = append(out, "envFrom (container "+cname+")")
			}
		}
		env, _, _ := unstructured.NestedSlice(c.Fields, "env")
		for _, e := range env {
			em, _ := e.(map[string]interface{})
			if n, _, _ := unstructured.NestedString(em, "valueFrom", keyRefKey, "name"); n == name {
				ename, _ := em["name"].(string)
				out = append(out, "env "+ename+" (container "+cname+")")
			}
		}
	}
	if kind == "Secret" {
		ips, _, _ := unstructured.NestedSlice(spec, "imagePullSecrets")
		for _, s := range ips {
			sm, _ := s.(map[string]interface{})
			if n, _ := sm["name"].(string); n == name {
				out = append(out, "imagePullSecrets")
			}
		}
	}
	return out
}

// rbac reads the cluster's RBAC objects once; false when they cannot be read.
func (d *dependents) rbac(ctx context.Context) bool {
	if d.snapshot != nil {
		return true
	}
	s := &rbacrisk.Snapshot{}
	read := func(resource string, into func(map[string]interface{}) error) bool {
		items, err := d.c.listAll(ctx, rbacv1.SchemeGroupVersion.WithResource(resource), "", metav1.ListOptions{})
		if err != nil {
			d.note("cannot list %s: %v (permissions are not shown)", resource, err)
			return false
		}
		for i := range items {
			if err := into(items[i].Object); err != nil {
				d.note("cannot read %s %s: %v", resource, items[i].GetName(), err)
				return false
			}
		}
		return true
	}
	conv := runtime.DefaultUnstructuredConverter
	ok := read("roles", func(o map[string]interface{}) error {
		var x rbacv1.Role
		err := conv.FromUnstructured(o, &x)
		s.Roles = append(s.Roles, x)
		return err
	}) && read("clusterroles", func(o map[string]interface{}) error {
		var x rbacv1.ClusterRole
		err := conv.FromUnstructured(o, &x)
		s.ClusterRoles = append(s.ClusterRoles, x)
		return err
	}) && read("rolebindings", func(o map[string]interface{}) error {
		var x rbacv1.RoleBinding
		err := conv.FromUnstructured(o, &x)
		s.RoleBindings = append(s.RoleBindings, x)
		return err
	}) && read("clusterrolebindings", func(o map[string]interface{}) error {
		var x rbacv1.ClusterRoleBinding
		err := conv.FromUnstructured(o, &x)
		s.ClusterRoleBindings = append(s.ClusterRoleBindings, x)
		return err
	})
	if !ok {
		return false
	}
	d.snapshot = s
	d.risks = rbacrisk.Evaluate(*s)
	return true
}

func riskStrings(rs []rbacrisk.Risk) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %s (%s): %s", r.Severity, r.Rule, r.Scope, r.Grant))
	}
	return out
}

// subjectInfo describes an RBAC subject with its risky permissions (when RBAC is readable).
func (d *dependents) subjectInfo(s rbacv1.Subject, bindingNS string) report.SubjectInfo {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		info := report.SubjectInfo{Subject: "ServiceAccount " + ns + "/" + s.Name}
		if d.risks != nil {
			info.Risks = riskStrings(rbacrisk.ForServiceAccount(d.risks, ns, s.Name))
		} else {
			info.RisksUnknown = true
		}
		return info
	default:
		info := report.SubjectInfo{Subject: s.Kind + " " + s.Name}
		if d.risks != nil {
			info.Risks = riskStrings(d.risks[rbacrisk.Subject{Kind: s.Kind, Name: s.Name}])
		} else {
			info.RisksUnknown = true
		}
		return info
	}
}

// forSubjects answers for the subjects of bindings: their permissions and the
// workloads running as them. via names the binding.
func (d *dependents) forSubjects(ctx context.Context, dep *report.DependsOn, subjects []rbacv1.Subject, bindingNS, via string) {
	const saUser, saGroup = "system:serviceaccount:", "system:serviceaccounts"
	for _, s := range subjects {
		switch {
		case s.Kind == rbacv1.UserKind && strings.HasPrefix(s.Name, saUser):
			parts := strings.SplitN(strings.TrimPrefix(s.Name, saUser), ":", 2)
			if len(parts) == 2 {
				s = rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: parts[0], Name: parts[1]}
			}
		}
		dep.Subjects = appendSubject(dep.Subjects, d.subjectInfo(s, bindingNS))
		switch {
		case s.Kind == rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = bindingNS
			}
			v := "runs as ServiceAccount " + ns + "/" + s.Name
			if via != "" {
				v += " (" + via + ")"
			}
			dep.Workloads = append(dep.Workloads, d.runningAs(ctx, ns, s.Name, v)...)
		case s.Kind == rbacv1.GroupKind && strings.HasPrefix(s.Name, saGroup+":"):
			ns := strings.TrimPrefix(s.Name, saGroup+":")
			dep.Workloads = append(dep.Workloads, d.runningAs(ctx, ns, "", "")...)
			d.note("group %s: every ServiceAccount of namespace %s gets these permissions", s.Name, ns)
		case s.Kind == rbacv1.GroupKind && (s.Name == saGroup || s.Name == "system:authenticated"):
			d.note("group %s: every workload in the cluster gets these permissions", s.Name)
		}
	}
}

func appendSubject(list []report.SubjectInfo, s report.SubjectInfo) []report.SubjectInfo {
	for _, x := range list {
		if x.Subject == s.Subject {
			return list
		}
	}
	return append(list, s)
}

// dependsOn answers question 4 for the target; nil when it does not apply to its kind.
func (d *dependents) dependsOn(ctx context.Context, kind, ns, name string) *report.DependsOn {
	dep := &report.DependsOn{}
	switch kind {
	case "ServiceAccount":
		d.rbac(ctx)
		d.forSubjects(ctx, dep, []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}, ns, "")
	case "RoleBinding", "ClusterRoleBinding":
		if !d.rbac(ctx) {
			break
		}
		found := false
		for _, b := range d.snapshot.RoleBindings {
			if kind == "RoleBinding" && b.Namespace == ns && b.Name == name {
				found = true
				d.forSubjects(ctx, dep, b.Subjects, ns, "")
			}
		}
		for _, b := range d.snapshot.ClusterRoleBindings {
			if kind == "ClusterRoleBinding" && b.Name == name {
				found = true
				d.forSubjects(ctx, dep, b.Subjects, "", "")
			}
		}
		if !found {
			d.note("the %s no longer exists: only the dependents recorded in findings are shown", kind)
		}
	case "Role", "ClusterRole":
		if !d.rbac(ctx) {
			break
		}
		for _, b := range d.snapshot.RoleBindings {
			if b.RoleRef.Kind == kind && b.RoleRef.Name == name && (kind == "ClusterRole" || b.Namespace == ns) {
				d.forSubjects(ctx, dep, b.Subjects, b.Namespace, "bound by RoleBinding "+b.Namespace+"/"+b.Name)
			}
		}
		if kind == "ClusterRole" {
			for _, b := range d.snapshot.ClusterRoleBindings {
				if b.RoleRef.Kind == kind && b.RoleRef.Name == name {
					d.forSubjects(ctx, dep, b.Subjects, "", "bound by ClusterRoleBinding "+b.Name)
				}
			}
		}
	case "ConfigMap", "Secret":
		dep.Workloads = d.referencing(ctx, kind, ns, name)
	default:
		return nil
	}
	// One entry per workload: merge the ways it depends.
	merged := map[string]int{}
	var ws []report.Workload
	for _, w := range dep.Workloads {
		k := w.Kind + "/" + w.Namespace + "/" + w.Name
		if i, ok := merged[k]; ok {
			if !strings.Contains(ws[i].Via, w.Via) {
				ws[i].Via += "; " + w.Via
			}
			continue
		}
		merged[k] = len(ws)
		ws = append(ws, w)
	}
	report.SortWorkloads(ws)
	dep.Workloads = ws
	sort.SliceStable(dep.Subjects, func(i, j int) bool { return dep.Subjects[i].Subject < dep.Subjects[j].Subject })
	dep.Notes = d.notes
	return dep
}
