// Package e2e runs kubetrail end to end on the local control plane of
// hack/local-up.sh: real etcd, kube-apiserver and kube-controller-manager (so
// Deployments really get ReplicaSets and Pods), kubetrail installed with kustomize, the
// manager running with its own service account. The specs drive it the way people
// and pipelines do, through kubectl and kubectl-trail, and assert what they print.
package e2e
