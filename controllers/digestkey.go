package controllers

import (
	"context"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/internal/digest"
)

// DigestKeySecret is the Secret, in kubetrail's namespace, holding the key of the
// keyed hashes of Secret values in content digests (see digest.SetSecretKey), under
// data.key. Every replica and every restart must hash with the same key, or a Secret
// admitted by one would look changed to another.
const DigestKeySecret = "kubetrail-digest-key"

const digestKeyField = "key"

// LoadDigestKey returns the digest key of namespace's DigestKeySecret, creating the
// Secret with a random 32-byte key when there is none. Of two replicas starting at
// once, the one whose create loses reads the other's key. c must not be a cache (the
// manager caches Secrets as metadata only). The key is never logged.
func LoadDigestKey(ctx context.Context, c client.Client, namespace string) ([]byte, error) {
	name := types.NamespacedName{Namespace: namespace, Name: DigestKeySecret}
	for range 3 {
		s := &corev1.Secret{}
		err := c.Get(ctx, name, s)
		if err == nil {
			k := s.Data[digestKeyField]
			if len(k) < digest.MinSecretKeyLen {
				return nil, fmt.Errorf("Secret %s: data.%s holds %d bytes, want at least %d (delete the Secret to have a new key made; "+
					"Secrets admitted before then will show as changed content on their next update)", name, digestKeyField, len(k), digest.MinSecretKeyLen)
			}
			return k, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading Secret %s: %w", name, err)
		}
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		immutable := true
		err = c.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: DigestKeySecret,
				Labels: map[string]string{"app.kubernetes.io/part-of": "kubetrail"}},
			Type:      corev1.SecretTypeOpaque,
			Immutable: &immutable,
			Data:      map[string][]byte{digestKeyField: k},
		})
		if err == nil {
			return k, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating Secret %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("Secret %s: created and deleted concurrently, giving up", name)
}

// SetDigestKey loads (or creates) the digest key of namespace's DigestKeySecret
// through an uncached client for cfg and sets it as this process's digest key, before
// the webhooks stamp any Secret.
func SetDigestKey(ctx context.Context, cfg *rest.Config, namespace string) error {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	k, err := LoadDigestKey(ctx, c, namespace)
	if err != nil {
		return err
	}
	return digest.SetSecretKey(k)
}
