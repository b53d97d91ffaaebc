// Command gitops-status reads one Kubernetes object (YAML or JSON) on stdin and prints, as one
// line of JSON, how GitOps tools judge it:
//
//	{"kstatus": {"status": "InProgress", "message": "..."}, "argocd": {"status": "Progressing", "message": "..."}}
//
// kstatus is sigs.k8s.io/cli-utils' status.Compute, which Flux's health checks read; argocd is
// the script named by -health-lua run as an argocd-cm customization runs (no open libraries).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type report struct {
	Kstatus verdict      `json:"kstatus"`
	ArgoCD  HealthStatus `json:"argocd"`
}

// readObject decodes YAML or JSON the way the API machinery does, so integers are int64 as in
// the objects Argo CD and Flux receive from the API server.
func readObject(input []byte) (*unstructured.Unstructured, error) {
	asJSON, err := yaml.YAMLToJSON(input)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(asJSON); err != nil {
		return nil, err
	}
	return obj, nil
}

func judge(input []byte, script string) (report, error) {
	obj, err := readObject(input)
	if err != nil {
		return report{}, fmt.Errorf("reading the object: %w", err)
	}
	computed, err := status.Compute(obj)
	if err != nil {
		return report{}, fmt.Errorf("kstatus: %w", err)
	}
	health, err := ArgoHealth(obj.Object, script, false)
	if err != nil {
		return report{}, fmt.Errorf("health.lua: %w", err)
	}
	return report{Kstatus: verdict{computed.Status.String(), computed.Message}, ArgoCD: health}, nil
}

func main() {
	scriptPath := flag.String("health-lua", "", "the Argo CD health script")
	flag.Parse()
	if *scriptPath == "" {
		fmt.Fprintln(os.Stderr, "usage: gitops-status -health-lua FILE < object.yaml")
		os.Exit(2)
	}
	script, err := os.ReadFile(*scriptPath)
	if err == nil {
		var input []byte
		if input, err = io.ReadAll(os.Stdin); err == nil {
			var result report
			if result, err = judge(input, string(script)); err == nil {
				err = json.NewEncoder(os.Stdout).Encode(result)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitops-status:", err)
		os.Exit(1)
	}
}
