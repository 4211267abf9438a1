package policy

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/secretscan"
)

// secretScan scans a request's object for credentials at most once, however many
// policies ask, within secretscan.DefaultBudget and the request's context. On update
// only the values that changed are scanned: credentials already stored are the
// reconciler's to report (SecretExposure findings).
func secretScan(ctx context.Context, in Input) func() secretscan.Result {
	return sync.OnceValue(func() secretscan.Result {
		var old map[string]interface{}
		if !in.Create {
			old = in.OldObject
		}
		return secretscan.ScanWithin(ctx, in.Object, old, secretscan.DefaultBudget)
	})
}

// evaluateSecrets raises a violation for each credential found, and one when the scan
// could not finish within its budget: an object too large (or too slow) to scan is
// never passed as clean. Under secretLiterals: Deny it is denied, saying why and how
// to fix it; under Warn and Audit it is a warning or a finding like any other.
func evaluateSecrets(p *Compiled, scan func() secretscan.Result, raise func(*Compiled, v1alpha1.PolicyMode, v1alpha1.FindingType, *field.Error)) {
	action := p.Spec.SecretLiterals
	if action == "" {
		action = v1alpha1.ActionWarn
	}
	if action == v1alpha1.ActionIgnore {
		return
	}
	r := scan()
	mode := capMode(p.Spec.Mode, action)
	for _, f := range r.Findings {
		raise(p, mode, v1alpha1.FindingSecretExposure, field.Forbidden(field.NewPath(f.Location),
			fmt.Sprintf("looks like a credential (gitleaks rule %s, fingerprint %s): reference a Secret with valueFrom.secretKeyRef instead of writing the value", f.RuleID, f.Fingerprint)))
	}
	if inc := r.Incomplete; inc != nil {
		raise(p, mode, v1alpha1.FindingSecretExposure, field.Forbidden(field.NewPath(inc.Location), IncompleteScanMessage(inc)))
	}
}

// IncompleteScanMessage says that an object could not be scanned for credentials
// within the budget, why, and how to fix it.
func IncompleteScanMessage(inc *secretscan.Incomplete) string {
	if inc.Limit == secretscan.LimitRules {
		return "could not be scanned for credentials: " + inc.Reason() + " (see the manager's log)"
	}
	return fmt.Sprintf("the object is too large to scan for credentials within kubetrail's budget (%s), so a credential written into it cannot be ruled out: "+
		"move large data into a Secret (Secrets are never scanned) and reference it, or split the object into smaller ones", inc.Reason())
}
