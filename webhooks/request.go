package webhooks

import (
	"fmt"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubetrail/kubetrail/internal/jsonfast"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

// maxObjectBytes bounds what the handlers decode. The apiserver already caps requests
// (3 MiB by default); the bound keeps a hostile object from costing more than that.
const maxObjectBytes = 3 << 20

// trackedRequest is an admission request for a tracked object, decoded.
type trackedRequest struct {
	admission.Request
	Kind     tracked.Kind
	Object   map[string]interface{}
	Old      map[string]interface{}
	Identity policy.Identity
	Now      time.Time
}

// decodeTracked decodes a create or update of a tracked kind. ok is false for requests
// the handlers let through untouched (other operations, subresources, untracked kinds).
func decodeTracked(req admission.Request, kinds tracked.Set, now time.Time) (*trackedRequest, bool, error) {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return nil, false, nil
	}
	if req.SubResource != "" {
		return nil, false, nil
	}
	kind, ok := kindsOrDefault(kinds).LookupResource(req.Resource.Group, req.Resource.Resource)
	if !ok {
		return nil, false, nil
	}
	r := &trackedRequest{
		Request:  req,
		Kind:     kind,
		Identity: policy.Identity{Username: req.UserInfo.Username, Groups: req.UserInfo.Groups},
		Now:      now,
	}
	var err error
	if r.Object, err = decodeObject(req.Object.Raw); err != nil {
		return nil, false, fmt.Errorf("decoding object: %w", err)
	}
	if req.Operation == admissionv1.Update {
		if r.Old, err = decodeObject(req.OldObject.Raw); err != nil {
			return nil, false, fmt.Errorf("decoding oldObject: %w", err)
		}
	}
	return r, true, nil
}

// kindsOrDefault is the handlers' configured kinds, all of the table when unset.
func kindsOrDefault(kinds tracked.Set) tracked.Set {
	if kinds == nil {
		return tracked.Default
	}
	return kinds
}

func decodeObject(raw []byte) (map[string]interface{}, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("empty object")
	}
	if len(raw) > maxObjectBytes {
		return nil, fmt.Errorf("object of %d bytes is larger than the %d kubetrail admits", len(raw), maxObjectBytes)
	}
	obj, err := jsonfast.UnmarshalObject(raw)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("object is null")
	}
	return obj, nil
}
