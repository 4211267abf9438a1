// Package secretscan finds credentials written in plain text into Kubernetes specs:
// every string of a workload's pod template (all containers, init and ephemeral ones
// included, with env, command, args, probes, lifecycle hooks, HTTP headers, volumes,
// and the template's labels and annotations) and ConfigMap data and binaryData
// (decoded). Those fields are readable by anyone who can read the object (and land in
// Git, in `kubectl get -o yaml` output, and in audit logs), so a password or token
// there is a leak even when the cluster is otherwise locked down; it belongs in a
// Secret.
//
// Detection is gitleaks' default rule set, used as a library, so a finding here is
// the same finding developers get from gitleaks in their repository and CI, with the
// same rule ids, the same allowlists and the same `gitleaks:allow` escape hatch.
//
// Each value is scanned on its own so that a finding names the exact field it is in,
// and once more with its name in front (`DB_PASSWORD=...`, `password: ...`) because
// many gitleaks rules only fire when a keyword sits next to the value. Values of any
// size are scanned, long ones in overlapping chunks (chunks). Findings carry a
// fingerprint of the credential, never the credential, so they can be logged, put in
// events and compared across objects safely. Secrets are never scanned: holding
// credentials is what they are for.
//
// ScanWithin is bounded by a Budget (bytes, values, time, and the request's context);
// a scan that stops early says so in Result.Incomplete, so that a caller never takes
// an object it could not scan for a clean one.
package secretscan
