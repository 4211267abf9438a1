package controllers

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var digestKeyNS atomic.Int32

var _ = Describe("The digest key", func() {
	newNS := func(ctx context.Context) string {
		ns := fmt.Sprintf("digest-key-%d", digestKeyNS.Add(1))
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		return ns
	}

	It("is made once, immutable, and every replica starting at once reads the same", func(ctx SpecContext) {
		ns := newNS(ctx)
		keys := make([][]byte, 4)
		var wg sync.WaitGroup
		for i := range keys {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				k, err := LoadDigestKey(ctx, k8sClient, ns)
				Expect(err).NotTo(HaveOccurred())
				keys[i] = k
			}()
		}
		wg.Wait()
		for _, k := range keys {
			Expect(k).To(HaveLen(32))
			Expect(k).To(Equal(keys[0]))
		}
		var s corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: DigestKeySecret}, &s)).To(Succeed())
		Expect(s.Immutable).To(HaveValue(BeTrue()))
		Expect(s.Data["key"]).To(Equal(keys[0]))

		// A restart reads it back.
		again, err := LoadDigestKey(ctx, k8sClient, ns)
		Expect(err).NotTo(HaveOccurred())
		Expect(again).To(Equal(keys[0]))
	})

	It("refuses a key too short to be one, naming the Secret and the field", func(ctx SpecContext) {
		ns := newNS(ctx)
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: DigestKeySecret},
			Data:       map[string][]byte{"key": []byte("short")},
		})).To(Succeed())
		_, err := LoadDigestKey(ctx, k8sClient, ns)
		Expect(err).To(MatchError(SatisfyAll(
			ContainSubstring(ns+"/"+DigestKeySecret), ContainSubstring("data.key holds 5 bytes, want at least 32"))))
		Expect(err.Error()).NotTo(ContainSubstring("short"))
	})
})
