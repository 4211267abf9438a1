package workload

import (
	"sort"
	"strconv"
)

// podSpecPaths maps a workload kind to the path of its pod spec in the object.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// IsWorkload reports whether kind carries a pod template.
func IsWorkload(kind string) bool {
	_, ok := podSpecPaths[kind]
	return ok
}

// PodSpecPath returns the field path of kind's pod spec, or nil for kinds without one.
func PodSpecPath(kind string) []string {
	p := podSpecPaths[kind]
	if p == nil {
		return nil
	}
	return append([]string(nil), p...)
}

// PodSpec returns the pod spec of a workload object, or nil when obj has none.
func PodSpec(obj map[string]interface{}) map[string]interface{} {
	kind, _ := obj["kind"].(string)
	path := podSpecPaths[kind]
	if path == nil {
		return nil
	}
	var cur interface{} = obj
	for _, f := range path {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil
		}
		cur = m[f]
	}
	spec, _ := cur.(map[string]interface{})
	return spec
}

// ContainerGroups are the pod spec fields that hold containers, in the order kubectl shows them.
var ContainerGroups = []string{"initContainers", "containers", "ephemeralContainers"}

// Container is one container of a pod spec with where it sits.
type Container struct {
	// Group is the pod spec field holding it (containers, initContainers, ephemeralContainers).
	Group string
	// Index is its position in that list.
	Index int
	// Fields is the container's content.
	Fields map[string]interface{}
}

// Name is the container's name, or its index when it has none (invalid input).
func (c Container) Name() string {
	if n, ok := c.Fields["name"].(string); ok && n != "" {
		return n
	}
	return "#" + strconv.Itoa(c.Index)
}

// Containers lists every container of a pod spec.
func Containers(podSpec map[string]interface{}) []Container {
	var out []Container
	for _, g := range ContainerGroups {
		list, _ := podSpec[g].([]interface{})
		for i, item := range list {
			if m, ok := item.(map[string]interface{}); ok {
				out = append(out, Container{Group: g, Index: i, Fields: m})
			}
		}
	}
	return out
}

// Images returns the sorted, de-duplicated container images of a workload object.
func Images(obj map[string]interface{}) []string {
	spec := PodSpec(obj)
	if spec == nil {
		return nil
	}
	seen := map[string]bool{}
	var images []string
	for _, c := range Containers(spec) {
		if img, ok := c.Fields["image"].(string); ok && img != "" && !seen[img] {
			seen[img] = true
			images = append(images, img)
		}
	}
	sort.Strings(images)
	return images
}

// ServiceAccountName is the service account the workload's pods run as ("default" when unset).
func ServiceAccountName(obj map[string]interface{}) string {
	spec := PodSpec(obj)
	if spec == nil {
		return ""
	}
	if sa, ok := spec["serviceAccountName"].(string); ok && sa != "" {
		return sa
	}
	if sa, ok := spec["serviceAccount"].(string); ok && sa != "" {
		return sa
	}
	return "default"
}
