package workload

import (
	"reflect"
	"testing"
)

func TestImagesAndServiceAccount(t *testing.T) {
	cases := map[string]struct {
		obj    map[string]interface{}
		images []string
		sa     string
	}{
		"deployment with init and app containers": {
			obj: map[string]interface{}{"kind": "Deployment", "spec": map[string]interface{}{"template": map[string]interface{}{"spec": map[string]interface{}{
				"serviceAccountName": "builder",
				"initContainers":     []interface{}{map[string]interface{}{"name": "init", "image": "busybox:1"}},
				"containers":         []interface{}{map[string]interface{}{"name": "app", "image": "nginx:1.27"}, map[string]interface{}{"name": "side", "image": "busybox:1"}},
			}}}},
			images: []string{"busybox:1", "nginx:1.27"},
			sa:     "builder",
		},
		"cronjob defaults to the default account": {
			obj: map[string]interface{}{"kind": "CronJob", "spec": map[string]interface{}{"jobTemplate": map[string]interface{}{"spec": map[string]interface{}{"template": map[string]interface{}{"spec": map[string]interface{}{
				"containers": []interface{}{map[string]interface{}{"name": "c", "image": "job:2"}},
			}}}}}},
			images: []string{"job:2"},
			sa:     "default",
		},
		"configmap has neither": {
			obj: map[string]interface{}{"kind": "ConfigMap", "data": map[string]interface{}{"a": "b"}},
		},
		"malformed template is ignored, not a panic": {
			obj: map[string]interface{}{"kind": "Deployment", "spec": map[string]interface{}{"template": "oops"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Images(tc.obj); !reflect.DeepEqual(got, tc.images) {
				t.Errorf("Images() = %v, want %v", got, tc.images)
			}
			if got := ServiceAccountName(tc.obj); got != tc.sa {
				t.Errorf("ServiceAccountName() = %q, want %q", got, tc.sa)
			}
		})
	}
}
