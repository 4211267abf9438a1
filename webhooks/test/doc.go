// Package test holds the webhooks' user stories, run through a real kube-apiserver
// (envtest) that calls kubetrail's webhooks over TLS as a cluster would. They live in
// their own package, as in Cluster API, so they use kubetrail only through what main.go
// wires up.
package test
