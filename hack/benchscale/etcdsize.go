package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

type sizeStats struct {
	Count  int     `json:"count"`
	Mean   float64 `json:"meanBytes"`
	P50    float64 `json:"p50Bytes"`
	P99    float64 `json:"p99Bytes"`
	Max    float64 `json:"maxBytes"`
	TotalB float64 `json:"totalBytes"`
}

type etcdSizeResult struct {
	// Etcd: exact value sizes of /registry/kubetrail.io/tracerecords/<ns>/<name>, read
	// through etcd's JSON gateway (POST /v3/kv/range), by record kind; "drifted" are the
	// records of the drift test (a second, untraced revision, a Drift and an
	// UntracedChange finding, one more condition message).
	Etcd map[string]sizeStats `json:"etcd"`
	// JSON: compact JSON of the same records as the apiserver returns them, with and
	// without metadata.managedFields (cross-check of the etcd figure).
	JSONWithManagedFields    map[string]sizeStats `json:"jsonWithManagedFields"`
	JSONWithoutManagedFields map[string]sizeStats `json:"jsonWithoutManagedFields"`
	EtcdError                string               `json:"etcdError,omitempty"`
}

// recordClass groups a record as the report does: by target kind, and the drift test's.
func recordClass(ns, name string) string {
	if ns == driftNamespace {
		return "drifted-deployment"
	}
	if !strings.HasPrefix(ns, nsPrefix) {
		return ""
	}
	kind, _, _ := strings.Cut(name, ".")
	return kind
}

func stats(v []float64) sizeStats {
	if len(v) == 0 {
		return sizeStats{}
	}
	sortFloats(v)
	s := sizeStats{Count: len(v), P50: percentile(v, 0.5), P99: percentile(v, 0.99), Max: v[len(v)-1]}
	for _, x := range v {
		s.TotalB += x
	}
	s.Mean = s.TotalB / float64(len(v))
	return s
}

func group(m map[string][]float64) map[string]sizeStats {
	out := map[string]sizeStats{}
	var all []float64
	for k, v := range m {
		if k != "drifted-deployment" {
			all = append(all, v...)
		}
		out[k] = stats(v)
	}
	out["all-cold-start"] = stats(all)
	return out
}

func etcdSize(ctx context.Context, cfg *rest.Config, etcdURL string) (*etcdSizeResult, error) {
	res := &etcdSizeResult{}
	if etcdURL != "" {
		m, err := etcdValueSizes(ctx, etcdURL)
		if err != nil {
			res.EtcdError = err.Error()
		} else {
			res.Etcd = group(m)
		}
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	with, without := map[string][]float64{}, map[string][]float64{}
	cont := ""
	for {
		l, err := dc.Resource(recordGVR).List(ctx, metav1.ListOptions{Limit: 2000, Continue: cont})
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			it := &l.Items[i]
			c := recordClass(it.GetNamespace(), it.GetName())
			if c == "" {
				continue
			}
			b, _ := json.Marshal(it.Object)
			with[c] = append(with[c], float64(len(b)))
			it.SetManagedFields(nil)
			b, _ = json.Marshal(it.Object)
			without[c] = append(without[c], float64(len(b)))
		}
		cont = l.GetContinue()
		if cont == "" {
			break
		}
	}
	res.JSONWithManagedFields, res.JSONWithoutManagedFields = group(with), group(without)
	return res, nil
}

// etcdValueSizes reads every TraceRecord key and value through etcd's gRPC gateway.
func etcdValueSizes(ctx context.Context, etcdURL string) (map[string][]float64, error) {
	const prefix = "/registry/kubetrail.io/tracerecords/"
	end := "/registry/kubetrail.io/tracerecords0"
	key := prefix
	out := map[string][]float64{}
	cl := &http.Client{Timeout: 60 * time.Second}
	for {
		body, _ := json.Marshal(map[string]any{
			"key":       base64.StdEncoding.EncodeToString([]byte(key)),
			"range_end": base64.StdEncoding.EncodeToString([]byte(end)),
			"limit":     1000,
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(etcdURL, "/")+"/v3/kv/range", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := cl.Do(req)
		if err != nil {
			return nil, err
		}
		var r struct {
			Kvs []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"kvs"`
			More bool `json:"more"`
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("etcd range: %w", err)
		}
		for _, kv := range r.Kvs {
			k, _ := base64.StdEncoding.DecodeString(kv.Key)
			v, _ := base64.StdEncoding.DecodeString(kv.Value)
			rest := strings.TrimPrefix(string(k), prefix)
			ns, name, _ := strings.Cut(rest, "/")
			if c := recordClass(ns, name); c != "" {
				out[c] = append(out[c], float64(len(v)))
			}
			key = string(k) + "\x00"
		}
		if !r.More || len(r.Kvs) == 0 {
			break
		}
	}
	return out, nil
}
