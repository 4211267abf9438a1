package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

type createResult struct {
	Objects     int     `json:"objects"`
	Namespaces  int     `json:"namespaces"`
	Roles       int     `json:"roles"`
	Deployments int     `json:"deployments"`
	ConfigMaps  int     `json:"configMaps"`
	RoleBinding int     `json:"roleBindings"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"perSecond"`
	Errors      int64   `json:"errors"`
	// SettleSeconds is how long kube-controller-manager took, after the last create, to
	// observe every created Deployment (observedGeneration caught up): the cold start
	// is measured on a settled cluster, as an install into a populated cluster is.
	SettleSeconds float64 `json:"settleSeconds"`
}

func namespaceName(i int) string { return fmt.Sprintf("%s%04d", nsPrefix, i) }

// objectKind is the kind of the i-th object: Deployment, ConfigMap, RoleBinding in turn.
func objectKind(i int) string { return [...]string{"Deployment", "ConfigMap", "RoleBinding"}[i%3] }

func objectName(i int) string { return fmt.Sprintf("obj-%05d", i) }

func namespaces(n int) int { return max(1, (n+99)/100) }

// create makes n objects over n/100 namespaces, each namespace with one Role the
// RoleBindings bind. Already existing objects count as created (reruns).
func create(ctx context.Context, cfg *rest.Config, n, workers int) (*createResult, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	nns := namespaces(n)
	res := &createResult{Objects: n, Namespaces: nns, Roles: nns}
	start := time.Now()
	var errs atomic.Int64
	ok := func(err error) bool {
		if err == nil || apierrors.IsAlreadyExists(err) {
			return true
		}
		if errs.Add(1) <= 5 {
			logf("create: %v", err)
		}
		return false
	}
	// Namespaces and roles first.
	parallel(workers, nns, func(i int) {
		ns := namespaceName(i)
		if !ok(retry(func() error {
			_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			return err
		})) {
			return
		}
		ok(retry(func() error {
			_, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
				ObjectMeta: metav1.ObjectMeta{Name: "bs-reader"},
				Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}},
			}, metav1.CreateOptions{})
			return err
		}))
	})
	var done atomic.Int64
	parallel(workers, n, func(i int) {
		ns, name := namespaceName(i%nns), objectName(i)
		labels := map[string]string{"app": name, "bench": "scale"}
		var err error
		switch objectKind(i) {
		case "Deployment":
			err = retry(func() error {
				_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(name, labels, nil), metav1.CreateOptions{})
				return err
			})
		case "ConfigMap":
			err = retry(func() error {
				_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
					Data:       map[string]string{"config.yaml": fmt.Sprintf("replicas: 3\nname: %s\nlogLevel: info\n", name), "feature-flags": "a=true,b=false"},
				}, metav1.CreateOptions{})
				return err
			})
		case "RoleBinding":
			err = retry(func() error {
				_, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
					ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
					RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "bs-reader"},
					Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "reader-" + name}},
				}, metav1.CreateOptions{})
				return err
			})
		}
		if ok(err) {
			if d := done.Add(1); d%2000 == 0 {
				logf("created %d/%d", d, n)
			}
		}
	})
	res.Seconds = time.Since(start).Seconds()
	res.PerSecond = float64(n) / res.Seconds
	res.Errors = errs.Load()
	for i := 0; i < n; i++ {
		switch objectKind(i) {
		case "Deployment":
			res.Deployments++
		case "ConfigMap":
			res.ConfigMaps++
		default:
			res.RoleBinding++
		}
	}
	if res.Errors > 0 {
		return res, fmt.Errorf("%d creates failed", res.Errors)
	}
	settled := time.Now()
	if err := waitDeploymentsObserved(ctx, cs, res.Deployments, 10*time.Minute); err != nil {
		return res, err
	}
	res.SettleSeconds = time.Since(settled).Seconds()
	logf("kube-controller-manager observed every Deployment %.1fs after the last create", res.SettleSeconds)
	return res, nil
}

// waitDeploymentsObserved waits until want Deployments in the benchmark's namespaces
// have status.observedGeneration at their generation. It lists every 5 s from the
// apiserver's watch cache: a light load next to what it waits for.
func waitDeploymentsObserved(ctx context.Context, cs kubernetes.Interface, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		l, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err == nil {
			observed := 0
			for i := range l.Items {
				d := &l.Items[i]
				if benchRecord(d.Namespace, "deployment."+d.Name) && d.Status.ObservedGeneration >= d.Generation {
					observed++
				}
			}
			if observed >= want {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("only %d of %d Deployments observed by kube-controller-manager after %s", observed, want, timeout)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

func deployment(name string, labels, annotations map[string]string) *appsv1.Deployment {
	zero := int32(0)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Replicas: &zero,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example.com/team/app:1.4.2",
					Args: []string{"--port=8080"},
					Env:  []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}},
				}}},
			},
		},
	}
}

// retry retries transient errors (throttling, timeouts) a few times.
func retry(f func() error) error {
	var err error
	for attempt := 0; attempt < 6; attempt++ {
		err = f()
		if err == nil || apierrors.IsAlreadyExists(err) || apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
			return err
		}
		time.Sleep(time.Duration(200*(attempt+1)) * time.Millisecond)
	}
	return err
}

func parallel(workers, n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
