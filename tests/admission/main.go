// Command admission runs Knative's own admission logic — SetDefaults, then Validate, as the Knative
// webhooks do on create — over rendered manifests, under a cluster configuration read from YAML.
//
//	admission [cluster-config.yaml [namespace]] < manifests.yaml
//
// The cluster configuration maps ConfigMap names to their data: "config-defaults" and
// "config-features" (knative.dev/serving), "config-br-defaults" and "eventing/config-features"
// (knative.dev/eventing's config-features in knative-eventing: its webhook puts these flags in the
// context of every Validate, cmd/webhook/main.go). Missing maps mean Knative's stock defaults. An object
// without metadata.namespace gets the namespace argument ("default"), as the API server gives one before
// the webhooks see it (a SinkBinding's subject defaults to it). One JSON line per object; exit status 1 if any object is refused.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/util/yaml"
	eventingconfig "knative.dev/eventing/pkg/apis/config"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	servingconfig "knative.dev/serving/pkg/apis/config"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

type object interface {
	apis.Defaultable
	apis.Validatable
}

type result struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func newObject(apiVersion, kind string) object {
	switch apiVersion + "/" + kind {
	case "serving.knative.dev/v1/Service":
		return &servingv1.Service{}
	case "eventing.knative.dev/v1/Broker":
		return &eventingv1.Broker{}
	case "eventing.knative.dev/v1/Trigger":
		return &eventingv1.Trigger{}
	case "sources.knative.dev/v1/PingSource":
		return &sourcesv1.PingSource{}
	case "sources.knative.dev/v1/SinkBinding":
		return &sourcesv1.SinkBinding{}
	}
	return nil
}

func clusterContext(path string) (context.Context, error) {
	maps := map[string]map[string]string{}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := sigsyaml.Unmarshal(raw, &maps); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	defaults, err := servingconfig.NewDefaultsConfigFromMap(maps["config-defaults"])
	if err != nil {
		return nil, fmt.Errorf("config-defaults: %w", err)
	}
	features, err := servingconfig.NewFeaturesConfigFromMap(maps["config-features"])
	if err != nil {
		return nil, fmt.Errorf("config-features: %w", err)
	}
	ctx := servingconfig.ToContext(context.Background(), &servingconfig.Config{Defaults: defaults, Features: features})
	if data, ok := maps["config-br-defaults"]; ok { // absent: eventing's own FromContextOrDefaults
		brDefaults, err := eventingconfig.NewDefaultsConfigFromMap(data)
		if err != nil {
			return nil, fmt.Errorf("config-br-defaults: %w", err)
		}
		ctx = eventingconfig.ToContext(ctx, &eventingconfig.Config{Defaults: brDefaults})
	}
	// Eventing's flags (delivery-timeout and the like): shipped values under "eventing/config-features".
	flags, err := feature.NewFlagsConfigFromMap(maps["eventing/config-features"])
	if err != nil {
		return nil, fmt.Errorf("eventing/config-features: %w", err)
	}
	ctx = feature.ToContext(ctx, flags)
	return apis.WithinCreate(ctx), nil
}

func main() {
	path, namespace := "", "default"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if len(os.Args) > 2 {
		namespace = os.Args[2]
	}
	ctx, err := clusterContext(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	decoder := yaml.NewYAMLOrJSONDecoder(os.Stdin, 4096)
	out := json.NewEncoder(os.Stdout)
	refused := false
	for {
		var doc map[string]any
		if err := decoder.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if doc == nil {
			continue
		}
		apiVersion, _ := doc["apiVersion"].(string)
		kind, _ := doc["kind"].(string)
		obj := newObject(apiVersion, kind)
		if obj == nil {
			continue // not a Knative object: Kubernetes' own schemas check it (tests/deploy)
		}
		name := ""
		if meta, ok := doc["metadata"].(map[string]any); ok {
			name, _ = meta["name"].(string)
			if ns, _ := meta["namespace"].(string); ns == "" {
				meta["namespace"] = namespace
			}
		}
		raw, _ := json.Marshal(doc)
		res := result{Kind: kind, Name: name, OK: true}
		if err := json.Unmarshal(raw, obj); err != nil {
			res.OK, res.Error = false, err.Error()
		} else {
			obj.SetDefaults(ctx)
			if ferr := obj.Validate(ctx); ferr != nil {
				res.OK, res.Error = false, ferr.Error()
			}
		}
		refused = refused || !res.OK
		_ = out.Encode(res)
	}
	if refused {
		os.Exit(1)
	}
}
