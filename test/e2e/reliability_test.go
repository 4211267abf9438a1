package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// Reliability of the record: load, crashes, outages, leader election and tampering, on
// the real local control plane. Every spec has its own namespace; the specs that
// disrupt the plane (kill the manager, the apiserver, start a second manager, move the
// webhooks) put it back as local-up.sh left it afterwards (ensureDefaultPlane), also
// when they fail. They stop the manager, so they need the webhooks failing open: no
// Enforce TracePolicy in force (the other specs delete theirs).
//
// What the design can guarantee, and so what is asserted: the reconciler records the
// revisions it observes, and it observes the state of an object, not its stream of
// writes (an informer may coalesce updates, and a manager that is down sees only the
// state it finds when it comes back). A revision is therefore guaranteed to be recorded
// when it stays the live state until the reconciler has seen it. The load specs make
// that true per object: each writer waits until the record shows its revision before
// it changes the same object again, while 50 writers run concurrently across objects;
// for those, len(history) + historyDropped == revisions exactly, in order, each once.
// When writers change one object faster than the reconciler reconciles, revisions in
// between can be missed: that spec measures the share recorded and asserts only what
// holds (the latest revision is recorded, nothing is invented or duplicated).
//
// Every change here changes tracked content as well as the commit: a change of the
// provenance annotations alone is no new admission (the webhook keeps the facts of the
// content's admission), so it makes no revision. After a restart, controller-runtime's
// priority queue reconciles the initial list at low priority: under continued writes
// the changes made before or during the outage are recorded after the new ones (the
// "catch-up" figures).
var _ = Describe("Reliability", Serial, Label("reliability"), func() {
	var cl client.Client

	BeforeEach(func() {
		cl, _ = relClient()
		Eventually(enforceFailurePolicy, 60*time.Second, time.Second).Should(Equal("Ignore"),
			"the reliability specs stop the manager and need the webhooks failing open; is an Enforce TracePolicy installed? (kubectl get tp)")
	})
	AfterEach(func() {
		// Leave the plane as local-up.sh started it, for the next spec.
		ensureDefaultPlane()
	})

	Context("under load", func() {
		It("records every revision of 50 concurrent writers exactly once, bounded at --history-limit with the rest counted", func(ctx SpecContext) {
			const ns = "rel-load"
			createNamespace(ns)
			recs := recordCache(ctx, ns)

			// 40 ConfigMaps and 10 Deployments, one writer each. Six of them get 24 changes
			// after their create: 25 revisions, over the manager's default --history-limit 20.
			var writers []*objectWriter
			changes := map[*objectWriter]int{}
			for i := 0; i < 40; i++ {
				w := &objectWriter{obj: tracedObject{GVK: cmGVK, NS: ns, Name: fmt.Sprintf("cm-%02d", i)}}
				writers, changes[w] = append(writers, w), 5
				if i < 4 {
					changes[w] = 24
				}
			}
			for i := 0; i < 10; i++ {
				w := &objectWriter{obj: tracedObject{GVK: deployGVK, NS: ns, Name: fmt.Sprintf("web-%d", i)}}
				writers, changes[w] = append(writers, w), 5
				if i < 2 {
					changes[w] = 24
				}
			}
			Expect(writers).To(HaveLen(50))

			start := time.Now()
			errs := make([]error, len(writers))
			var wg sync.WaitGroup
			for i, w := range writers {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					errs[i] = w.run(ctx, cl, recs, changes[w], 60*time.Second, nil)
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			Expect(errorsJoin(errs)).NotTo(HaveOccurred())

			var problems []string
			var waits []time.Duration
			revisions, over := 0, 0
			for _, w := range writers {
				revisions += len(w.revs)
				waits = append(waits, w.waits()...)
				Expect(w.untrace).To(BeZero(), "%s: a change did not pass the webhook", w.obj)
				rec, err := getRecord(ctx, w.obj.recordKey())
				Expect(err).NotTo(HaveOccurred())
				problems = append(problems, verifyHistory(rec, w.revs, relHistoryLimit)...)
				problems = append(problems, verifyWhole(ctx, cl, w.obj)...)
				if len(w.revs) > relHistoryLimit {
					over++
					Expect(rec.Status.History).To(HaveLen(relHistoryLimit), "%s", w.obj)
					Expect(rec.Status.HistoryDropped).To(BeEquivalentTo(len(w.revs)-relHistoryLimit), "%s", w.obj)
				}
			}
			Expect(problems).To(BeEmpty())
			Expect(over).To(Equal(6))
			figure("load: revisions", "%d revisions of 50 objects by 50 concurrent writers in %s (%.0f revisions/s recorded)",
				revisions, elapsed.Round(time.Millisecond), float64(revisions)/elapsed.Seconds())
			figure("load: write to record", "%s", durations(waits))
		}, SpecTimeout(4*time.Minute))

		It("under a burst of concurrent writes to the same objects records the latest revision and never invents or duplicates one", func(ctx SpecContext) {
			const ns = "rel-burst"
			createNamespace(ns)
			// 10 ConfigMaps, 5 writers each, 6 changes per writer without waiting for the
			// record: faster than one reconcile per revision. Revisions in between may be
			// coalesced (the reconciler only sees the state it reads); this measures how many.
			objs := make([]tracedObject, 10)
			admitted := make([]map[string]rev, len(objs))
			var mu sync.Mutex
			for i := range objs {
				objs[i] = tracedObject{GVK: cmGVK, NS: ns, Name: fmt.Sprintf("hot-%d", i)}
				first := revOf(createTraced(ctx, cl, objs[i]))
				admitted[i] = map[string]rev{first.String(): first}
			}
			start := time.Now()
			errs := make([]error, 50)
			var wg sync.WaitGroup
			for wi := 0; wi < 50; wi++ {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					o := objs[wi%len(objs)]
					for i := 1; i <= 6 && ctx.Err() == nil; i++ {
						u, err := change(ctx, cl, o, i, fmt.Sprintf("w%d", wi), "rel-pipeline")
						if err != nil {
							errs[wi] = err
							return
						}
						r := revOf(u)
						mu.Lock()
						admitted[wi%len(objs)][r.String()] = r
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			writeTime := time.Since(start)
			Expect(errorsJoin(errs)).NotTo(HaveOccurred())

			By("every record converging on its object's latest revision")
			Eventually(func() []string {
				var problems []string
				for _, o := range objs {
					problems = append(problems, verifyWhole(ctx, cl, o)...)
				}
				return problems
			}, 90*time.Second, 250*time.Millisecond).Should(BeEmpty())
			converged := time.Since(start)

			recorded, total := int64(0), 0
			for i, o := range objs {
				rec, err := getRecord(ctx, o.recordKey())
				Expect(err).NotTo(HaveOccurred())
				Expect(duplicates(rec)).To(BeEmpty())
				for _, r := range admitted[i] {
					Expect(r.Traced).To(BeTrue(), "%s: a change did not pass the webhook", o)
				}
				for j, h := range rec.Status.History {
					Expect(admitted[i]).To(HaveKey(entryRev(h).String()), "%s: history[%d] is no admitted revision", o, j)
				}
				n := int64(len(rec.Status.History)) + rec.Status.HistoryDropped
				Expect(n).To(BeNumerically("<=", len(admitted[i])))
				recorded += n
				total += len(admitted[i])
			}
			figure("burst: recorded share", "%d of %d admitted revisions recorded (%.0f%%); 300 writes in %s, records converged %s after the first",
				recorded, total, 100*float64(recorded)/float64(total), writeTime.Round(time.Millisecond), converged.Round(time.Millisecond))
		}, SpecTimeout(3*time.Minute))
	})

	It("loses and duplicates no history, and leaves no record half-written, when the manager is SIGKILLed mid-load", func(ctx SpecContext) {
		const ns = "rel-kill"
		createNamespace(ns)
		recs := recordCache(ctx, ns)
		var writers []*objectWriter
		for i := 0; i < 20; i++ {
			writers = append(writers, &objectWriter{obj: tracedObject{GVK: cmGVK, NS: ns, Name: fmt.Sprintf("cm-%02d", i)}})
		}
		for i := 0; i < 4; i++ {
			writers = append(writers, &objectWriter{obj: tracedObject{GVK: deployGVK, NS: ns, Name: fmt.Sprintf("web-%d", i)}})
		}
		oldPid := pidOf("manager")

		var written atomic.Int64
		var killedAt, readyAt time.Time
		var restartTook time.Duration
		killed := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(killed)
			deadline := time.Now().Add(2 * time.Minute)
			for written.Load() < 60 {
				if ctx.Err() != nil || time.Now().After(deadline) {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			By("SIGKILLing the manager mid-load, then hack/local-restart.sh manager")
			Expect(syscall.Kill(oldPid, syscall.SIGKILL)).To(Succeed())
			killedAt = time.Now()
			restartTook = localRestart("manager")
			readyAt = time.Now()
		}()

		errs := make([]error, len(writers))
		var wg sync.WaitGroup
		for i, w := range writers {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				errs[i] = w.run(ctx, cl, recs, 10, 2*time.Minute, func() { written.Add(1) })
				if errs[i] == nil && !w.revs[len(w.revs)-1].Traced {
					// End on a traced change, so the record must be in sync at the end.
					errs[i] = w.change(ctx, cl, recs, 99, time.Minute, nil)
				}
			}()
		}
		wg.Wait()
		<-killed
		Expect(errorsJoin(errs)).NotTo(HaveOccurred())
		Expect(killedAt).NotTo(BeZero(), "the manager was never killed")
		Expect(pidOf("manager")).NotTo(Equal(oldPid))

		var problems []string
		revisions, untraced := 0, 0
		for _, w := range writers {
			revisions += len(w.revs)
			untraced += w.untrace
			rec, err := getRecord(ctx, w.obj.recordKey())
			Expect(err).NotTo(HaveOccurred())
			problems = append(problems, verifyHistory(rec, w.revs, relHistoryLimit)...)
			problems = append(problems, verifyWhole(ctx, cl, w.obj)...)
		}
		Expect(problems).To(BeEmpty())
		figure("kill: restart", "manager SIGKILLed after %d changes; hack/local-restart.sh manager took %s (webhooks answering %s after the kill)",
			60, restartTook.Round(time.Millisecond), readyAt.Sub(killedAt).Round(time.Millisecond))
		figure("kill: revisions", "%d revisions of 24 objects, %d of them written while the webhook was down (admitted unstamped, recorded as untraced); all recorded once",
			revisions, untraced)
		var waits []time.Duration
		for _, w := range writers {
			waits = append(waits, w.waits()...)
		}
		figure("kill: write to record", "%s (includes the waits across the outage)", durations(waits))
		figure("kill: catch-up", "every change written before the restarted manager was ready recorded %s after it was",
			caughtUp(writers, readyAt).Sub(readyAt).Round(time.Millisecond))
	}, SpecTimeout(4*time.Minute))

	It("records the changes made while the webhooks were down as UntracedChange, and Drift on traced objects", func(ctx SpecContext) {
		const ns = "rel-outage"
		createNamespace(ns)
		settings := tracedObject{GVK: cmGVK, NS: ns, Name: "settings"}
		web := tracedObject{GVK: deployGVK, NS: ns, Name: "web"}
		var before = map[tracedObject]rev{}
		for _, o := range []tracedObject{settings, web} {
			r := revOf(createTraced(ctx, cl, o))
			Expect(r.Traced).To(BeTrue())
			Expect(waitRecorded(ctx, cl, o.recordKey(), r, time.Minute)).To(Succeed())
			before[o] = r
		}
		Expect(enforceFailurePolicy()).To(Equal("Ignore"))

		By("stopping the manager: the webhooks fail open")
		killComponent("manager", syscall.SIGTERM)
		downAt := time.Now()
		for _, o := range []tracedObject{settings, web} {
			u, err := change(ctx, cl, o, 1, "hotfix", "rel-hotfix")
			Expect(err).NotTo(HaveOccurred(), "a change while kubetrail is down must be admitted (failurePolicy Ignore)")
			Expect(revOf(u).Traced).To(BeFalse(), "%s: stamped although the manager is down", o)
		}
		created := &unstructured.Unstructured{Object: map[string]interface{}{"data": map[string]interface{}{"k": "v"}}}
		created.SetGroupVersionKind(cmGVK)
		created.SetNamespace(ns)
		created.SetName("created-while-down")
		Expect(cl.Create(ctx, created, client.FieldOwner("rel-hotfix"))).To(Succeed())
		Expect(created.GetAnnotations()).NotTo(HaveKey(provenance.AdmittedByKey))

		// A client forging the admission facts while nothing checks them: recorded for the
		// report (a limit of the design), not asserted.
		forged := &unstructured.Unstructured{Object: map[string]interface{}{"data": map[string]interface{}{"k": "forged"}}}
		forged.SetGroupVersionKind(cmGVK)
		forged.SetNamespace(ns)
		forged.SetName("forged-while-down")
		d, err := digest.Of(forged.Object, nil)
		Expect(err).NotTo(HaveOccurred())
		forged.SetAnnotations(map[string]string{
			provenance.AdmittedByKey: "system:serviceaccount:rel-ci:deployer", provenance.AdmittedAtKey: time.Now().UTC().Format(time.RFC3339),
			provenance.DigestKey: d, provenance.VerifiedKey: "true", provenance.CommitKey: fakeCommit("forged"),
			provenance.RepositoryKey: "https://github.com/acme/reliability", provenance.ApproverKey: "alice", provenance.ActorKey: "pipeline",
		})
		Expect(cl.Create(ctx, forged, client.FieldOwner("rel-hotfix"))).To(Succeed())

		By("restarting the manager (hack/local-restart.sh manager)")
		restartTook := localRestart("manager")
		readyAt := time.Now()
		var settingsRec, webRec, createdRec *v1alpha1.TraceRecord
		Eventually(func(g Gomega) {
			var err error
			settingsRec, err = getRecord(ctx, settings.recordKey())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(findingOf(settingsRec, v1alpha1.FindingDrift)).NotTo(BeNil())
			webRec, err = getRecord(ctx, web.recordKey())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(findingOf(webRec, v1alpha1.FindingDrift)).NotTo(BeNil())
			createdRec, err = getRecord(ctx, client.ObjectKey{Namespace: ns, Name: "configmap.created-while-down"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(findingOf(createdRec, v1alpha1.FindingUntracedChange)).NotTo(BeNil())
		}, 90*time.Second, 200*time.Millisecond).Should(Succeed())
		catchUp := time.Since(readyAt)

		for o, rec := range map[tracedObject]*v1alpha1.TraceRecord{settings: settingsRec, web: webRec} {
			path := "/data/v"
			if o.GVK.Kind == "Deployment" {
				path = "/spec/template/spec/containers/app/image" // list items by their merge key
			}
			drift := findingOf(rec, v1alpha1.FindingDrift)
			Expect(drift.Paths).To(ContainElement(path), "%s", o)
			Expect(drift.Managers).To(ContainElement("rel-hotfix"), "%s: the drift names who changed it", o)
			Expect(drift.IntroducedBy.Traced).To(BeFalse())
			untraced := findingOf(rec, v1alpha1.FindingUntracedChange)
			Expect(untraced).NotTo(BeNil(), "%s", o)
			Expect(untraced.Paths).To(ContainElement(path))
			Expect(condition(rec, v1alpha1.ConditionDrifted)).To(Equal("True"))
			Expect(rec.Status.History).NotTo(BeEmpty())
			Expect(rec.Status.History[0].Traced).To(BeFalse(), "%s: the change while down is an untraced revision", o)
			Expect(rec.Status.History[0].ChangedPaths).To(ContainElement(path))
			Expect(entryRev(rec.Status.History[1]).same(before[o])).To(BeTrue(), "%s: the traced revision before stays recorded", o)
			Expect(rec.Spec.Admission.Digest).To(Equal(before[o].Digest), "%s: spec keeps the last traced admission", o)
		}
		Expect(findingOf(createdRec, v1alpha1.FindingDrift)).To(BeNil())
		Expect(condition(createdRec, v1alpha1.ConditionTraced)).To(Equal("False"))
		Expect(createdRec.Status.History).To(HaveLen(1))
		Expect(createdRec.Status.History[0].Traced).To(BeFalse())

		By("the pipeline re-applying the object, which closes the drift")
		u, err := change(ctx, cl, settings, 2, "pipeline", "rel-pipeline")
		Expect(err).NotTo(HaveOccurred())
		r := revOf(u)
		Expect(r.Traced).To(BeTrue())
		Eventually(func() []string { return verifyWhole(ctx, cl, settings) }, time.Minute, 200*time.Millisecond).Should(BeEmpty())

		forgedRec, err := getRecord(ctx, client.ObjectKey{Namespace: ns, Name: "configmap.forged-while-down"})
		forgedSays := "no record"
		if err == nil {
			var types []string
			for _, f := range forgedRec.Status.Findings {
				types = append(types, string(f.Type))
			}
			forgedSays = fmt.Sprintf("Traced=%s, commit %s, admittedBy %s, findings %v", condition(forgedRec, v1alpha1.ConditionTraced),
				short(forgedRec.Spec.Commit), forgedRec.Spec.Admission.AdmittedBy, types)
		}
		figure("outage: catch-up", "manager down %s; restart took %s; changes made meanwhile recorded %s after the webhooks answered",
			readyAt.Sub(downAt).Round(time.Millisecond), restartTook.Round(time.Millisecond), catchUp.Round(time.Millisecond))
		figure("outage: forged admission facts", "an object created while the webhook was down with forged kubetrail.io/admitted-* annotations (correct digest): %s", forgedSays)
	}, SpecTimeout(4*time.Minute))

	// When the first time the reconciler sees a traced revision the live object already
	// differs from the admitted digest (the manager died between the admission and the
	// reconcile, or the webhook answered from a follower while no leader reconciled, and
	// then the webhook was bypassed), the change is drift: the reconciler does not take
	// the changed content as the revision's baseline (controllers/integrity.go).
	It("flags an untraced change made before the reconciler saw the traced revision it changed", func(ctx SpecContext) {
		const ns = "rel-hidden"
		createNamespace(ns)
		w := &objectWriter{obj: tracedObject{GVK: cmGVK, NS: ns, Name: "settings"}}
		Expect(w.run(ctx, cl, cl, 0, time.Minute, nil)).To(Succeed())

		By("a traced change admitted by a manager that does not reconcile (a follower while the leader is dead)")
		localRestart("manager", "--enable-controllers=false")
		u, err := change(ctx, cl, w.obj, 1, "pipeline", "rel-pipeline")
		Expect(err).NotTo(HaveOccurred())
		admitted := revOf(u)
		Expect(admitted.Traced).To(BeTrue())

		By("the manager dying, and a hotfix while the webhook is down")
		killComponent("manager", syscall.SIGKILL)
		u, err = change(ctx, cl, w.obj, 2, "hotfix", "rel-hotfix")
		Expect(err).NotTo(HaveOccurred())
		Expect(revOf(u).Traced).To(BeFalse())
		localRestart("manager")

		Eventually(func(g Gomega) {
			rec, err := getRecord(ctx, w.obj.recordKey())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(recordHas(rec, admitted)).To(BeTrue(), "the admitted revision is recorded")
			g.Expect(rec.Status.LiveDigest).NotTo(Equal(rec.Spec.Admission.Digest))
			g.Expect(condition(rec, v1alpha1.ConditionDrifted)).To(Equal("True"), "the hotfix is drift")
			g.Expect(findingOf(rec, v1alpha1.FindingUntracedChange)).NotTo(BeNil())
		}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	}, SpecTimeout(3*time.Minute))

	It("reconnects and catches up after kube-apiserver restarts under the manager", func(ctx SpecContext) {
		const ns = "rel-apiserver"
		createNamespace(ns)
		o := tracedObject{GVK: cmGVK, NS: ns, Name: "probe"}
		revs := []rev{revOf(createTraced(ctx, cl, o))}
		Expect(waitRecorded(ctx, cl, o.recordKey(), revs[0], time.Minute)).To(Succeed())
		managerPid, kcmPid := pidOf("manager"), pidOf("kube-controller-manager")

		By("SIGKILLing kube-apiserver, then hack/local-restart.sh kube-apiserver")
		killComponent("kube-apiserver", syscall.SIGKILL)
		killedAt := time.Now()
		localRestart("kube-apiserver")
		readyAt := time.Now()

		// A restarted kube-apiserver answers before its webhook configuration and the
		// webhook Service's endpoints are in its caches; until then the fail-open stamper
		// is not called and a change is admitted unstamped (recorded as an untraced
		// revision, see "changes made while the manager is down"). Wait for the stamper
		// with server-side dry runs, which write nothing, so the history stays exact.
		By("waiting, with dry runs, until the new apiserver calls the stamper again")
		Eventually(func(g Gomega) {
			dry, err := change(ctx, cl, o, 1, "w", "rel-pipeline", client.DryRunAll)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(revOf(dry).Traced).To(BeTrue(), "a dry run through the new apiserver is stamped")
		}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
		stampingAt := time.Now()

		By("a traced change right after the restart")
		var u *unstructured.Unstructured
		Eventually(func() error {
			var err error
			u, err = change(ctx, cl, o, 1, "w", "rel-pipeline")
			return err
		}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
		changedAt := time.Now()
		r := revOf(u)
		Expect(r.Traced).To(BeTrue(), "the webhook stamps again through the new apiserver")
		revs = append(revs, r)
		Expect(waitRecorded(ctx, cl, o.recordKey(), r, 2*time.Minute)).To(Succeed(), "the manager did not catch up")
		catchUp := time.Since(changedAt)

		Expect(pidOf("manager")).To(Equal(managerPid))
		Expect(processAlive(managerPid)).To(BeTrue(), "the manager must ride out an apiserver restart, not exit")
		rec, err := getRecord(ctx, o.recordKey())
		Expect(err).NotTo(HaveOccurred())
		Expect(verifyHistory(rec, revs, relHistoryLimit)).To(BeEmpty())
		Expect(verifyWhole(ctx, cl, o)).To(BeEmpty())
		figure("apiserver: restart", "kube-apiserver down and back ready in %s", readyAt.Sub(killedAt).Round(time.Millisecond))
		figure("apiserver: unstamped window", "after ready, %s until the restarted apiserver called the fail-open stamper again", stampingAt.Sub(readyAt).Round(time.Millisecond))
		figure("apiserver: catch-up", "a change made right after the restart was recorded %s later, by the same manager process", catchUp.Round(time.Millisecond))
		figure("apiserver: kube-controller-manager", "survived the restart: %v", processAlive(kcmPid))
	}, SpecTimeout(4*time.Minute))

	It("with two leader-elected managers: one reconciles, both admit, and the leader's death hands over without losing a revision", func(ctx SpecContext) {
		const ns = "rel-leader"
		createNamespace(ns)
		leArgs := []string{"--leader-elect", "--leader-election-namespace", relLeaseNamespace}
		deleteLease := func() {
			l := &coordinationv1.Lease{}
			l.Namespace, l.Name = relLeaseNamespace, relLeaseName
			_ = client.IgnoreNotFound(cl.Delete(context.Background(), l))
		}
		deleteLease() // a lease left by an interrupted run would delay the first election
		DeferCleanup(func() {
			ensureDefaultPlane()
			deleteLease()
		})

		By("restarting the manager with --leader-elect and starting a second one")
		localRestart("manager", leArgs...)
		Eventually(func() bool { return isLeader(relMetricsPort) }, 60*time.Second, 200*time.Millisecond).Should(BeTrue())
		localRestart("manager-2", leArgs...)
		Consistently(func() bool { return isLeader(relMetricsPort) && !isLeader(relMetrics2Port) }, 3*time.Second, 200*time.Millisecond).Should(BeTrue())
		lease := &coordinationv1.Lease{}
		Expect(cl.Get(ctx, client.ObjectKey{Namespace: relLeaseNamespace, Name: relLeaseName}, lease)).To(Succeed())
		Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
		firstHolder := *lease.Spec.HolderIdentity

		By("both replicas answering /readyz and TLS on their webhook ports")
		pool := x509.NewCertPool()
		ca, err := os.ReadFile(filepath.Join(stateDir, "certs", "ca.crt"))
		Expect(err).NotTo(HaveOccurred())
		Expect(pool.AppendCertsFromPEM(ca)).To(BeTrue())
		hc := http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
		for _, ports := range [][2]int{{relProbePort, relWebhookPort}, {relProbe2Port, relWebhook2Port}} {
			resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[0]))
			Expect(err).NotTo(HaveOccurred())
			_ = resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
			resp, err = hc.Get(fmt.Sprintf("https://localhost:%d/readyz", ports[1]))
			Expect(err).NotTo(HaveOccurred(), "webhook port %d", ports[1])
			_ = resp.Body.Close()
		}

		By("only the leader reconciling")
		recs := recordCache(ctx, ns)
		first := &objectWriter{obj: tracedObject{GVK: cmGVK, NS: ns, Name: "first"}}
		Expect(first.run(ctx, cl, recs, 1, time.Minute, nil)).To(Succeed())
		leaderReconciles, _ := metric(relMetricsPort, "controller_runtime_reconcile_total", `controller="trace-configmap"`)
		followerReconciles, ok := metric(relMetrics2Port, "controller_runtime_reconcile_total", `controller="trace-configmap"`)
		Expect(ok).To(BeTrue(), "manager-2's metrics endpoint")
		Expect(leaderReconciles).To(BeNumerically(">", 0))
		Expect(followerReconciles).To(BeZero(), "the follower reconciled")

		By("the follower admitting: the webhooks pointed at manager-2")
		pointWebhooksAt(cl, relWebhook2Port)
		mutBefore, _ := metric(relMetrics2Port, "controller_runtime_webhook_requests_total", `webhook="/mutate-tracked"`)
		// Counted by the guard's decision, not by requests: the namespace controller still
		// deleting the records of an earlier spec's namespace also reaches the guard.
		guardBefore, _ := metric(relMetrics2Port, "kubetrail_admission_decisions_total", `kind="TraceRecord"`, `result="allowed-manager"`)
		second := &objectWriter{obj: tracedObject{GVK: cmGVK, NS: ns, Name: "second"}}
		Expect(second.run(ctx, cl, recs, 1, time.Minute, nil)).To(Succeed())
		Expect(second.revs[1].Traced).To(BeTrue())
		mutAfter, _ := metric(relMetrics2Port, "controller_runtime_webhook_requests_total", `webhook="/mutate-tracked"`)
		guardAfter, _ := metric(relMetrics2Port, "kubetrail_admission_decisions_total", `kind="TraceRecord"`, `result="allowed-manager"`)
		Expect(mutAfter).To(BeNumerically(">", mutBefore), "manager-2 stamped the change")
		// The leader's own record writes skip the guard (matchCondition not-the-manager):
		// the guard only ever hears from everyone else.
		Expect(guardAfter).To(Equal(guardBefore), "the leader's record writes were sent to the guard")
		guardDeniedBefore, _ := metric(relMetrics2Port, "kubetrail_admission_decisions_total", `kind="TraceRecord"`, `result="denied"`)
		out, err := kubectl("delete", "tr", "configmap.second", "-n", ns)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("TraceRecords are evidence"))
		guardDenied, _ := metric(relMetrics2Port, "kubetrail_admission_decisions_total", `kind="TraceRecord"`, `result="denied"`)
		Expect(guardDenied).To(BeNumerically(">", guardDeniedBefore), "manager-2 guarded the records against the admin")

		By("SIGKILLing the leader mid-load")
		var writers []*objectWriter
		for i := 0; i < 10; i++ {
			writers = append(writers, &objectWriter{obj: tracedObject{GVK: cmGVK, NS: ns, Name: fmt.Sprintf("ho-%d", i)}})
		}
		var written atomic.Int64
		var killedAt, leaderAt time.Time
		handedOver := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(handedOver)
			deadline := time.Now().Add(2 * time.Minute)
			for written.Load() < 15 {
				if ctx.Err() != nil || time.Now().After(deadline) {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			Expect(syscall.Kill(pidOf("manager"), syscall.SIGKILL)).To(Succeed())
			killedAt = time.Now()
			for !isLeader(relMetrics2Port) {
				if ctx.Err() != nil || time.Since(killedAt) > time.Minute {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			leaderAt = time.Now()
		}()
		errs := make([]error, len(writers))
		var wg sync.WaitGroup
		for i, w := range writers {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				errs[i] = w.run(ctx, cl, recs, 8, 90*time.Second, func() { written.Add(1) })
			}()
		}
		wg.Wait()
		<-handedOver
		Expect(errorsJoin(errs)).NotTo(HaveOccurred())
		Expect(killedAt).NotTo(BeZero(), "the leader was never killed")
		Expect(leaderAt).NotTo(BeZero(), "manager-2 did not take over within a minute")
		Expect(cl.Get(ctx, client.ObjectKey{Namespace: relLeaseNamespace, Name: relLeaseName}, lease)).To(Succeed())
		Expect(*lease.Spec.HolderIdentity).NotTo(Equal(firstHolder))

		var problems []string
		var waits []time.Duration
		revisions := 0
		for _, w := range append(writers, first, second) {
			Expect(w.untrace).To(BeZero(), "%s: a change did not pass manager-2's webhook", w.obj)
			revisions += len(w.revs)
			waits = append(waits, w.waits()...)
			rec, err := getRecord(ctx, w.obj.recordKey())
			Expect(err).NotTo(HaveOccurred())
			problems = append(problems, verifyHistory(rec, w.revs, relHistoryLimit)...)
			problems = append(problems, verifyWhole(ctx, cl, w.obj)...)
		}
		Expect(problems).To(BeEmpty())
		figure("leader: catch-up", "every change written before manager-2 led recorded %s after it did",
			caughtUp(writers, leaderAt).Sub(leaderAt).Round(time.Millisecond))
		figure("leader: handover", "manager-2 leader %s after the leader was SIGKILLed (lease duration 15s)", leaderAt.Sub(killedAt).Round(time.Millisecond))
		figure("leader: revisions", "%d revisions of 12 objects, all stamped by manager-2 and recorded once; write to record %s", revisions, durations(waits))
	}, SpecTimeout(5*time.Minute))

	Context("tampering with records", func() {
		const ns = "rel-tamper"
		var obj tracedObject
		var lastCommit string

		BeforeEach(func(ctx SpecContext) {
			createNamespace(ns)
			obj = tracedObject{GVK: cmGVK, NS: ns, Name: "evidence"}
			w := &objectWriter{obj: obj}
			Expect(w.run(ctx, cl, cl, 1, time.Minute, nil)).To(Succeed())
			lastCommit = w.revs[1].Commit
		}, NodeTimeout(2*time.Minute))

		It("denies a cluster-admin who deletes or edits a TraceRecord", func() {
			name := obj.recordKey().Name
			for _, attempt := range []struct {
				verb string
				args []string
			}{
				{"delete", []string{"delete", "tr", name, "-n", ns}},
				{"change", []string{"patch", "tr", name, "-n", ns, "--type", "merge", "-p", `{"spec":{"commit":"` + fakeCommit("forged") + `"}}`}},
				// No status subresource: the status is part of the record and guarded with it.
				{"change", []string{"patch", "tr", name, "-n", ns, "--type", "merge", "-p", `{"status":{"history":[],"findings":[]}}`}},
				{"change", []string{"label", "tr", name, "-n", ns, "tampered=yes"}},
			} {
				out, err := kubectl(attempt.args...)
				Expect(err).To(HaveOccurred(), "kubectl %s", strings.Join(attempt.args, " "))
				Expect(out).To(ContainSubstring("kubernetes-admin may not " + attempt.verb + " TraceRecord " + ns + "/" + name))
			}
			forged := writeFile("rel-forged-record.yaml", fmt.Sprintf(`apiVersion: kubetrail.io/v1alpha1
kind: TraceRecord
metadata: {name: configmap.innocent, namespace: %s}
spec:
  target: {apiVersion: v1, kind: ConfigMap, namespace: %s, name: innocent}
  commit: %s
`, ns, ns, fakeCommit("forged")))
			out, err := kubectl("create", "-f", forged)
			Expect(err).To(HaveOccurred())
			Expect(out).To(ContainSubstring("kubernetes-admin may not create TraceRecord"))
			rec, err := getRecord(context.Background(), obj.recordKey())
			Expect(err).NotTo(HaveOccurred())
			Expect(rec.Spec.Commit).To(Equal(lastCommit))
			Expect(rec.Status.History).To(HaveLen(2))
		})

		It("puts back a record edited or deleted behind the webhook's back, at the latest when its object is next reconciled", func(ctx SpecContext) {
			forgedCommit := fakeCommit("forged-behind-the-back")
			By("removing the validating webhook configuration and editing spec.commit as cluster-admin")
			withoutRecordGuard(ctx, obj.recordKey(), func() {
				out, err := kubectl("patch", "tr", obj.recordKey().Name, "-n", ns, "--type", "merge", "-p", `{"spec":{"commit":"`+forgedCommit+`"}}`)
				Expect(err).NotTo(HaveOccurred(), out)
			})
			// What the reconciler does on its own, within a few seconds: measured here,
			// asserted by the spec below.
			time.Sleep(5 * time.Second)
			rec, err := getRecord(ctx, obj.recordKey())
			Expect(err).NotTo(HaveOccurred())
			figure("tamper: edited record, 5s later", "spec.commit repaired: %v; findings: %d; Drifted=%s",
				rec.Spec.Commit == lastCommit, len(rec.Status.Findings), condition(rec, v1alpha1.ConditionDrifted))

			// Labels are tracked content (a label change is a revision of its own, untraced
			// here): a controller-owned annotation wakes the reconciler without one.
			By("the next reconcile of the object (a controller-owned annotation, no new revision) putting spec back")
			out, err := kubectl("annotate", "configmap", obj.Name, "-n", ns, "deployment.kubernetes.io/revision=1")
			Expect(err).NotTo(HaveOccurred(), out)
			// The manager writes spec and status separately: both must end right.
			Eventually(func() []string { return verifyWhole(ctx, cl, obj) }, 30*time.Second, 200*time.Millisecond).Should(BeEmpty())

			By("deleting the record behind the webhook's back: it is made again")
			before, err := getRecord(ctx, obj.recordKey())
			Expect(err).NotTo(HaveOccurred())
			withoutRecordGuard(ctx, obj.recordKey(), func() {
				out, err := kubectl("delete", "tr", obj.recordKey().Name, "-n", ns)
				Expect(err).NotTo(HaveOccurred(), out)
			})
			var again *v1alpha1.TraceRecord
			Eventually(func(g Gomega) {
				var err error
				again, err = getRecord(ctx, obj.recordKey())
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(again.UID).NotTo(Equal(before.UID))
				g.Expect(verifyWhole(ctx, cl, obj)).To(BeEmpty())
			}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
			Expect(again.Spec.Commit).To(Equal(lastCommit))
			figure("tamper: deleted record", "recreated with the live provenance; history %d entries (was %d), historyDropped %d (was %d)",
				len(again.Status.History), len(before.Status.History), again.Status.HistoryDropped, before.Status.HistoryDropped)
		}, SpecTimeout(2*time.Minute))

		// A record spec edited by another field manager re-enqueues its target
		// (recordsToRevisit): the reconciler repairs the spec and records an
		// InvalidProvenance finding naming the editor.
		It("repairs or flags a record edited behind the webhook's back without waiting for its object to change", func(ctx SpecContext) {
			withoutRecordGuard(ctx, obj.recordKey(), func() {
				out, err := kubectl("patch", "tr", obj.recordKey().Name, "-n", ns, "--type", "merge", "-p", `{"spec":{"commit":"`+fakeCommit("x")+`"}}`)
				Expect(err).NotTo(HaveOccurred(), out)
			})
			Eventually(func() bool {
				rec, _ := getRecord(ctx, obj.recordKey())
				return rec.Spec.Commit == lastCommit || findingOf(rec, v1alpha1.FindingInvalidProvenance) != nil
			}, 30*time.Second, 200*time.Millisecond).Should(BeTrue())
		}, SpecTimeout(time.Minute))
	})
})

// withoutRecordGuard runs f with kubetrail's validating webhook configuration deleted
// (as a cluster-admin could), and restores it from a saved copy afterwards, also when f
// fails. record is a TraceRecord to probe the guard with (server-side dry runs).
func withoutRecordGuard(ctx context.Context, record client.ObjectKey, f func()) {
	cl, _ := relClient()
	gvk := schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingWebhookConfiguration"}
	saved := &unstructured.Unstructured{}
	saved.SetGroupVersionKind(gvk)
	Expect(cl.Get(ctx, client.ObjectKey{Name: relValidatingName}, saved)).To(Succeed())
	restore := func() {
		probe := &unstructured.Unstructured{}
		probe.SetGroupVersionKind(gvk)
		if err := cl.Get(context.Background(), client.ObjectKey{Name: relValidatingName}, probe); !apierrors.IsNotFound(err) {
			return
		}
		again := saved.DeepCopy()
		for _, field := range []string{"resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"} {
			unstructured.RemoveNestedField(again.Object, "metadata", field)
		}
		Expect(cl.Create(context.Background(), again)).To(Succeed())
	}
	DeferCleanup(restore)
	probe := func() (string, error) {
		return kubectl("label", "tr", record.Name, "-n", record.Namespace, "kubetrail-e2e/probe=1", "--dry-run=server")
	}
	Expect(cl.Delete(ctx, saved.DeepCopy())).To(Succeed())
	// The apiserver drops the webhook from its admission chain shortly after.
	Eventually(probe, 10*time.Second, 200*time.Millisecond).Should(ContainSubstring("labeled"))
	func() {
		defer restore()
		f()
	}()
	Eventually(func() string {
		out, _ := probe()
		return out
	}, 30*time.Second, 200*time.Millisecond).Should(ContainSubstring("TraceRecords are evidence"))
}
