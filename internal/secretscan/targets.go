package secretscan

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"

	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/workload"
)

// target is one value to scan and where it sits.
type target struct {
	location  string
	container string
	key       string
	value     string
	// name is the value's name (env var, header, ConfigMap or annotation key) and sep
	// what joins it to the value, for rules that need a keyword next to the value;
	// "" when the value has no name.
	name, sep string
}

// targetsOf lists the values of obj to scan, and whether obj is of a kind that is
// scanned at all.
func targetsOf(obj map[string]interface{}) ([]target, bool) {
	kind, _ := obj["kind"].(string)
	switch {
	case kind == "Secret":
		return nil, false
	case kind == "ConfigMap":
		return configMapTargets(obj), true
	case workload.IsWorkload(kind):
		return podTemplateTargets(kind, obj), true
	}
	return nil, false
}

// podTemplateTargets lists every string of the pod template: the pod spec (all
// containers, init and ephemeral ones included, with their env, command, args,
// probes, lifecycle hooks, and the volumes and everything else) and the template's
// labels and annotations (a Pod's own), these without their key in front (see
// userKeyed).
func podTemplateTargets(kind string, obj map[string]interface{}) []target {
	specPath := workload.PodSpecPath(kind)
	var out []target
	emit := func(t target) { out = append(out, t) }
	if md, ok := lookup(obj, append(specPath[:len(specPath)-1:len(specPath)-1], "metadata")).(map[string]interface{}); ok {
		base := strings.Join(append(specPath[:len(specPath)-1:len(specPath)-1], "metadata"), ".")
		for _, f := range []string{"labels", "annotations"} {
			m, _ := md[f].(map[string]interface{})
			for _, k := range sortedKeys(m) {
				if k == provenance.SignatureKey {
					continue // kubetrail's own base64 envelope, checked by signing
				}
				if v, ok := m[k].(string); ok && v != "" {
					emit(target{location: base + "." + f + "[" + k + "]", key: k, value: v})
				}
			}
		}
	}
	if spec := workload.PodSpec(obj); spec != nil {
		w := walker{emit: emit}
		w.walkMap(strings.Join(specPath, "."), "", spec)
	}
	return out
}

// walker emits every string under a pod spec.
type walker struct{ emit func(target) }

// userKeyed are the pod spec maps whose keys are chosen by the user: their entries
// are located as [key]. Unlike env vars and ConfigMap keys they are scanned without the
// key in front: Helm's `checksum/secret: <sha256>` pod annotation is on countless
// Deployments, and gitleaks' generic rule takes the digest next to "secret" for a key.
var userKeyed = map[string]bool{"labels": true, "annotations": true, "nodeSelector": true, "volumeAttributes": true}

func (w walker) walkMap(path, container string, m map[string]interface{}) {
	for _, k := range sortedKeys(m) {
		w.walkField(path, container, k, m[k])
	}
}

func (w walker) walkField(path, container, field string, v interface{}) {
	p := path + "." + field
	if !isIdentifier(field) {
		p = path + "[" + field + "]"
	}
	switch x := v.(type) {
	case string:
		if x != "" {
			w.emit(target{location: p, container: container, value: x})
		}
	case map[string]interface{}:
		if userKeyed[field] {
			for _, k := range sortedKeys(x) {
				if s, ok := x[k].(string); ok && s != "" {
					w.emit(target{location: p + "[" + k + "]", container: container, key: k, value: s})
				} else {
					w.walkField(p, container, k, x[k])
				}
			}
			return
		}
		w.walkMap(p, container, x)
	case []interface{}:
		w.walkList(p, container, field, x)
	}
}

func (w walker) walkList(path, container, field string, list []interface{}) {
	isContainers := slices.Contains(workload.ContainerGroups, field)
	for i, item := range list {
		switch x := item.(type) {
		case string:
			if x == "" {
				continue
			}
			t := target{location: path + "[" + strconv.Itoa(i) + "]", container: container, value: x}
			// `--token abc` is `--token=abc` to a program; give the rules that keyword.
			if i > 0 {
				if flag, ok := list[i-1].(string); ok && strings.HasPrefix(flag, "-") && !strings.Contains(flag, "=") && len(flag) < 256 {
					t.name, t.sep = flag, "="
				}
			}
			w.emit(t)
		case map[string]interface{}:
			name, _ := x["name"].(string)
			loc := path + "[#" + strconv.Itoa(i) + "]"
			if name != "" {
				// The name itself is scanned at the index, so that a credential used as
				// a name is never repeated in a location.
				w.emit(target{location: loc + ".name", container: container, value: name})
				loc = path + "[" + name + "]"
			}
			c := container
			if isContainers {
				c = name
			}
			for _, k := range sortedKeys(x) {
				switch {
				case k == "name":
				case k == "value" && field == "env":
					// valueFrom points at a Secret, ConfigMap or field: with it, value is
					// not a literal (and the API server rejects the pair).
					if _, ref := x["valueFrom"]; ref {
						continue
					}
					if s, ok := x[k].(string); ok && s != "" {
						t := target{location: loc, container: c, key: name, value: s}
						if name != "" {
							t.name, t.sep = name, "="
						}
						w.emit(t)
					}
				case k == "value" && name != "":
					// httpHeaders and the like: name: value.
					if s, ok := x[k].(string); ok && s != "" {
						w.emit(target{location: loc + ".value", container: c, key: name, value: s, name: name, sep: ": "})
					}
				default:
					w.walkField(loc, c, k, x[k])
				}
			}
		case []interface{}:
			w.walkList(path+"[#"+strconv.Itoa(i)+"]", container, field, x)
		}
	}
}

// configMapTargets lists the data values of a ConfigMap and its binaryData, decoded.
func configMapTargets(obj map[string]interface{}) []target {
	var out []target
	data, _ := obj["data"].(map[string]interface{})
	for _, key := range sortedKeys(data) {
		if value, ok := data[key].(string); ok && value != "" {
			out = append(out, target{location: "data[" + key + "]", key: key, value: value, name: key, sep: ": "})
		}
	}
	bin, _ := obj["binaryData"].(map[string]interface{})
	for _, key := range sortedKeys(bin) {
		raw, ok := bin[key].(string)
		if !ok || raw == "" {
			continue
		}
		value := raw
		if b, err := base64.StdEncoding.DecodeString(raw); err == nil {
			value = string(b)
		}
		if value != "" {
			out = append(out, target{location: "binaryData[" + key + "]", key: key, value: value, name: key, sep: ": "})
		}
	}
	return out
}

// changedOnly keeps the targets whose value is not at the same location in old.
func changedOnly(targets, old []target) []target {
	before := make(map[string]string, len(old))
	for _, t := range old {
		before[t.location] = t.name + t.sep + "\x00" + t.value
	}
	out := targets[:0:0]
	for _, t := range targets {
		if v, ok := before[t.location]; !ok || v != t.name+t.sep+"\x00"+t.value {
			out = append(out, t)
		}
	}
	return out
}

func lookup(obj map[string]interface{}, path []string) interface{} {
	var cur interface{} = obj
	for _, f := range path {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil
		}
		cur = m[f]
	}
	return cur
}

func sortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// isIdentifier reports whether a field name can stand in a location after a dot.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
