package controllers

import (
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// Tracked objects are cached typed when the scheme knows their kind (every built-in
// kind kubetrail traces): the same Deployment takes about a third of the memory as a
// Go struct that it takes as unstructured maps, and the cache holds every tracked
// object of the cluster. The pure packages work on unstructured content, so a
// reconcile converts the one object it works on (contentOf).

// newObject returns an empty object of gvk: typed when scheme knows the kind, else
// unstructured.
func newObject(scheme *runtime.Scheme, gvk schema.GroupVersionKind) client.Object {
	if scheme != nil {
		if o, err := scheme.New(gvk); err == nil {
			if co, ok := o.(client.Object); ok {
				return co
			}
		}
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// newList returns an empty list of gvk's kind, typed like newObject.
func newList(scheme *runtime.Scheme, gvk schema.GroupVersionKind) client.ObjectList {
	listGVK := gvk.GroupVersion().WithKind(gvk.Kind + "List")
	if scheme != nil {
		if o, err := scheme.New(listGVK); err == nil {
			if l, ok := o.(client.ObjectList); ok {
				return l
			}
		}
	}
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(listGVK)
	return l
}

// listItems returns the items of list as objects (sharing memory with the list).
func listItems(list client.ObjectList) ([]client.Object, error) {
	var out []client.Object
	err := meta.EachListItem(list, func(o runtime.Object) error {
		co, ok := o.(client.Object)
		if !ok {
			return fmt.Errorf("list item %T is not an object", o)
		}
		out = append(out, co)
		return nil
	})
	return out, err
}

// contentOf returns obj's content as an unstructured map with its apiVersion and kind
// (a cached typed object has none). An unstructured object's own map is returned, not
// a copy: callers must not modify it.
func contentOf(obj client.Object, gvk schema.GroupVersionKind) (map[string]interface{}, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.Object, nil
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("reading %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	content["apiVersion"], content["kind"] = gvk.GroupVersion().String(), gvk.Kind
	return content, nil
}

// dropStatus empties obj's status, unstructured or typed, in place. kubetrail's own
// kinds keep theirs (the TracePolicy reconciler patches its policies' status).
func dropStatus(obj interface{}) {
	switch o := obj.(type) {
	case *unstructured.Unstructured:
		delete(o.Object, "status")
		return
	case *v1alpha1.TracePolicy, *v1alpha1.TraceRecord:
		return
	}
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return
	}
	if f := v.Elem().FieldByName("Status"); f.IsValid() && f.CanSet() {
		f.Set(reflect.Zero(f.Type()))
	}
}
