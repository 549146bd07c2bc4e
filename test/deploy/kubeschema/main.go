// kubeschema: strict-decodes Kubernetes manifests into the official API types (offline stand-in for kubectl's schema validation).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

func main() {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := monitoringv1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	failed := 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Printf("ERROR reading: %v\n", err)
			os.Exit(2)
		}
		if len(bytes.TrimSpace(doc)) == 0 || strings.TrimSpace(stripComments(string(doc))) == "" {
			continue
		}
		jsonDoc, err := yaml.YAMLToJSON(doc)
		if err != nil {
			fmt.Printf("ERROR yaml: %v\n", err)
			failed++
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(jsonDoc); err != nil {
			fmt.Printf("ERROR object: %v\n", err)
			failed++
			continue
		}
		id := fmt.Sprintf("%s %s/%s", u.GetAPIVersion(), u.GetKind(), u.GetName())
		for _, msg := range validation.IsDNS1123Subdomain(u.GetName()) {
			fmt.Printf("ERROR %s: metadata.name: %s\n", id, msg)
			failed++
		}
		for k, v := range u.GetLabels() {
			for _, msg := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				fmt.Printf("ERROR %s: label %s=%s: %s\n", id, k, v, msg)
				failed++
			}
		}
		gvk := u.GroupVersionKind()
		if !scheme.Recognizes(gvk) {
			fmt.Printf("UNKNOWN %s\n", id)
			continue
		}
		if _, _, err := decoder.Decode(jsonDoc, nil, nil); err != nil {
			fmt.Printf("ERROR %s: %v\n", id, err)
			failed++
			continue
		}
		fmt.Printf("OK %s\n", id)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
