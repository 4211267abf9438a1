// Package secretscan finds credentials written in plain text into Kubernetes specs:
// container env values, args and commands of workloads, and ConfigMap data. Those
// fields are readable by anyone who can read the object (and land in Git, in
// `kubectl get -o yaml` output, and in audit logs), so a password or token there is a
// leak even when the cluster is otherwise locked down; it belongs in a Secret.
//
// Detection is gitleaks' default rule set, used as a library, so a finding here is
// the same finding developers get from gitleaks in their repository and CI, with the
// same rule ids, the same allowlists and the same `gitleaks:allow` escape hatch.
//
// Each value is scanned on its own so that a finding names the exact field it is in,
// and once more with its name in front (`DB_PASSWORD=...`, `password: ...`) because
// many gitleaks rules only fire when a keyword sits next to the value. Findings carry
// a fingerprint of the credential, never the credential, so they can be logged, put in
// events and compared across objects safely. Secrets are never scanned: holding
// credentials is what they are for.
package secretscan
