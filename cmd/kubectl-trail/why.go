package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/report"
	"github.com/kubetrail/kubetrail/internal/workload"
)

func init() { registerVerb(newWhyCmd) }

type whyOptions struct {
	*rootOptions
	out outputFlag
}

func newWhyCmd(root *rootOptions) *cobra.Command {
	o := &whyOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "why KIND/NAME [-n NAMESPACE]",
		Short: "Answer for one object: what changed, who approved it, what deployed, what depends on it",
		Long: `Why answers four questions for one object from its TraceRecord and the live cluster:

  WHAT CHANGED        the revision history, newest first: commit, pull request,
                      pipeline run, actor (human, pipeline or agent), admission and the
                      changed fields; changes that bypassed provenance are marked UNTRACED
  WHO APPROVED        the approvers, who authored the change, whether its signature was
                      verified, and who submitted it to the API server
  WHAT DEPLOYED       the admitted digest and whether the live object still matches it,
                      the images, when and by whom it was admitted
  WHAT DEPENDS ON IT  for ServiceAccounts and RBAC objects the workloads running as the
                      subjects (and what the subjects may do); for ConfigMaps and Secrets
                      the workloads mounting or referencing them

followed by the object's drift and its open findings, each with the change that
introduced it. Secret values are never read into the answer.

A change admitted without new provenance (a kubectl set image that kept the
pipeline's commit and pipeline run) is shown as an UNTRACED change by its submitter
via its field managers, on top of the commit it kept, and credited to no approver.
An object a controller derived (a ReplicaSet, its Pods, a CronJob's Jobs) names the
traced object it was derived from and the change of it that produced it.

KIND is a resource type as kubectl names it: deployment, deploy, deployments.apps,
sa, cm, secret, ingress, ing, clusterrolebinding, crb, ...`,
		Example: `  kubectl trail why deployment/web -n shop
  kubectl trail why sa builder -n shop
  kubectl trail why crb/ci-admin -o json`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), cmd, args) },
	}
	o.out.add(cmd)
	return cmd
}

func (o *whyOptions) run(ctx context.Context, cmd *cobra.Command, args []string) error {
	if err := o.out.validate(); err != nil {
		return err
	}
	kindArg, name, err := parseTarget(args)
	if err != nil {
		return err
	}
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	k, err := c.resolveKind(kindArg)
	if err != nil {
		return err
	}
	ns := c.namespace
	if !k.Namespaced {
		ns = ""
	}
	target := report.TargetString(v1alpha1.TraceTarget{Kind: k.Kind, Namespace: ns, Name: name})

	live, liveObj, err := c.readLive(ctx, k, ns, name)
	if err != nil {
		fmt.Fprintf(o.streams.ErrOut, "warning: cannot read the live %s: %v; its digest is not checked\n", target, err)
	}
	var uid types.UID
	if liveObj != nil {
		uid = liveObj.GetUID()
	}
	rec, err := c.findRecord(ctx, k, ns, name, uid)
	if err != nil {
		return err
	}
	if rec == nil {
		return noRecordError(k, ns, name, target, live, liveObj)
	}

	if uid != "" && rec.Spec.Target.UID != "" && rec.Spec.Target.UID != uid {
		fmt.Fprintf(o.streams.ErrOut, "warning: TraceRecord %s/%s traces an earlier %s (uid %s); the live one (uid %s) is not recorded yet\n",
			rec.Namespace, rec.Name, target, rec.Spec.Target.UID, uid)
	}
	policies, _ := c.listPolicies(ctx) // only to tell trusted submitters; best effort
	in := report.WhyInput{Record: rec, Live: live, Policies: policies, Now: time.Now()}
	if from := rec.Spec.DerivedFrom; from != nil {
		// A derived object answers with the change of its owner that produced it.
		owner, err := c.ownerRecord(ctx, *from)
		if err != nil {
			fmt.Fprintf(o.streams.ErrOut, "warning: cannot read the TraceRecord of %s: %v; the change that produced %s is taken from its own record\n",
				report.TargetString(*from), err, target)
		}
		in.Owner = owner
	}
	in.DependsOn = newDependents(c).dependsOn(ctx, k.Kind, ns, name)
	answer := report.BuildWhy(in)
	if o.out.structured() {
		return o.out.print(o.streams.Out, answer)
	}
	return report.RenderWhy(o.streams.Out, answer, in.Now)
}

// ownerRecord finds the TraceRecord of the traced object a derived one names in
// spec.derivedFrom; nil when there is none.
func (c *cluster) ownerRecord(ctx context.Context, t v1alpha1.TraceTarget) (*v1alpha1.TraceRecord, error) {
	arg := strings.ToLower(t.Kind)
	if g := digest.Group(t.APIVersion); g != "" {
		arg += "." + g
	}
	k, ok := lookupTrackedKind(arg)
	if !ok {
		return nil, fmt.Errorf("%s is not a tracked kind", t.Kind)
	}
	return c.findRecord(ctx, k, t.Namespace, t.Name, t.UID)
}

// noRecordError explains why there is no answer.
func noRecordError(k targetKind, ns, name, target string, live *report.Live, liveObj *unstructured.Unstructured) error {
	if live != nil && !live.Found {
		where := ""
		if ns != "" {
			where = " in namespace " + ns
		}
		return fmt.Errorf("%s not found: there is no %s %q%s and kubetrail has no record of one; check the name and the namespace (-n)",
			target, k.Kind, name, where)
	}
	if liveObj != nil {
		for _, ref := range liveObj.GetOwnerReferences() {
			if ref.Controller != nil && *ref.Controller {
				return fmt.Errorf("no TraceRecord for %s: it is managed by %s %s, and kubetrail traces the owner: kubectl trail why %s/%s",
					target, ref.Kind, ref.Name, ref.Kind, ref.Name)
			}
		}
	}
	if !k.Tracked {
		return fmt.Errorf("no TraceRecord for %s: kubetrail does not trace %s by default (add the kind to the manager's tracked kinds)", target, k.GVR.Resource)
	}
	return fmt.Errorf("no TraceRecord for %s yet: kubetrail records objects within seconds of a change; is the manager running?", target)
}

// readLive reads the live target. live is nil (and err set) when it could not be read.
func (c *cluster) readLive(ctx context.Context, k targetKind, ns, name string) (*report.Live, *unstructured.Unstructured, error) {
	u, err := c.dyn.Resource(k.GVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &report.Live{Found: false}, nil, nil
	}
	if err != nil {
		return nil, nil, c.apiError(err, "get "+k.GVR.Resource)
	}
	live := &report.Live{Found: true, Signed: u.GetAnnotations()[provenance.SignatureKey] != ""}
	if !digest.Recomputable(u.Object) {
		// Its values enter the digest as keyed hashes, with a key only the manager holds.
		live.DigestError = "a Secret's digest covers its values, hashed with the manager's key: only admission compares them"
	} else if d, err := digest.Of(u.Object, nil); err != nil {
		live.DigestError = err.Error()
	} else {
		live.Digest = d
	}
	if workload.IsWorkload(k.Kind) {
		live.Images = workload.Images(u.Object)
		live.ServiceAccount = workload.ServiceAccountName(u.Object)
	}
	return live, u, nil
}

// findRecord finds the TraceRecord of a target by the selectable fields
// spec.target.kind and spec.target.name, so that it does not depend on how records
// are named; an API server that cannot select by them is asked for the record by
// its name. Among several records (a deleted object's tombstone and the record of
// its successor) the one of the live object's uid wins, then a record that is not a
// tombstone, then the newest.
func (c *cluster) findRecord(ctx context.Context, k targetKind, ns, name string, uid types.UID) (*v1alpha1.TraceRecord, error) {
	sel := fields.Set{"spec.target.kind": k.Kind, "spec.target.name": name}.AsSelector().String()
	recs, err := c.listRecords(ctx, ns, sel) // cluster-scoped targets: all namespaces
	if ns == "" && apierrors.IsForbidden(err) {
		// Not allowed to list records cluster-wide: where the manager puts them.
		recs, err = c.listRecords(ctx, installNamespace, sel)
	}
	if apierrors.IsBadRequest(err) {
		recNS := ns
		if recNS == "" {
			recNS = installNamespace
		}
		r, err := c.getRecord(ctx, recNS, recordName(k.Kind, name))
		if err != nil || r == nil {
			return nil, err
		}
		recs = []v1alpha1.TraceRecord{*r}
	} else if err != nil {
		return nil, err
	}
	var best *v1alpha1.TraceRecord
	score := func(r *v1alpha1.TraceRecord) int {
		s := 0
		if uid != "" && r.Spec.Target.UID == uid {
			s += 4
		}
		if r.Status.DeletedAt == nil {
			s += 2
		}
		return s
	}
	for i := range recs {
		r := &recs[i]
		t := r.Spec.Target
		if t.Kind != k.Kind || t.Name != name || t.Namespace != ns || digest.Group(t.APIVersion) != k.GVR.Group {
			continue
		}
		if best == nil || score(r) > score(best) ||
			(score(r) == score(best) && best.CreationTimestamp.Before(&r.CreationTimestamp)) {
			best = r
		}
	}
	return best, nil
}
