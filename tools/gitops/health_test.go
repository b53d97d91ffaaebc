package main

// TestLuaHealthScript reads resource_customizations/<group>/<kind>/health_test.yaml the way
// Argo CD's util/lua/health_test.go does: every health.lua has a health_test.yaml beside it
// whose tests name an inputPath (read with sigs.k8s.io/yaml) and the exact healthStatus
// (status and message) the script must return. Each case runs with the standard libraries open
// (as Argo CD's own test and its built-in scripts run) and without them (as Argo CD runs a
// customization from argocd-cm), and every file in testdata/ must be used by a test.

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

const customizations = "../../docs/argocd/resource_customizations"

type testStructure struct {
	Tests []individualTest `json:"tests"`
}

type individualTest struct {
	InputPath    string       `json:"inputPath"`
	HealthStatus HealthStatus `json:"healthStatus"`
}

func TestLuaHealthScript(t *testing.T) {
	scripts, err := filepath.Glob(filepath.Join(customizations, "*", "*", "health.lua"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no health.lua under %s (%v)", customizations, err)
	}
	for _, scriptPath := range scripts {
		dir := filepath.Dir(scriptPath)
		script := readFile(t, scriptPath)
		var suite testStructure
		if err := yaml.Unmarshal(readFile(t, filepath.Join(dir, "health_test.yaml")), &suite); err != nil {
			t.Fatalf("parsing %s/health_test.yaml: %v", dir, err)
		}
		if len(suite.Tests) == 0 {
			t.Fatalf("%s/health_test.yaml has no tests", dir)
		}
		used := map[string]bool{}
		for _, test := range suite.Tests {
			used[filepath.Clean(test.InputPath)] = true
			obj := map[string]any{}
			if err := yaml.Unmarshal(readFile(t, filepath.Join(dir, test.InputPath)), &obj); err != nil {
				t.Fatalf("parsing %s: %v", test.InputPath, err)
			}
			for _, openLibs := range []bool{true, false} {
				name, _ := filepath.Rel(customizations, filepath.Join(dir, test.InputPath))
				if !openLibs {
					name += "/argocd-cm"
				}
				t.Run(name, func(t *testing.T) {
					got, err := ArgoHealth(obj, string(script), openLibs)
					if err != nil {
						t.Fatal(err)
					}
					if got != test.HealthStatus {
						t.Errorf("got %+v, want %+v", got, test.HealthStatus)
					}
				})
			}
		}
		inputs, _ := filepath.Glob(filepath.Join(dir, "testdata", "*.yaml"))
		for _, input := range inputs {
			rel, _ := filepath.Rel(dir, input)
			if !used[rel] {
				t.Errorf("%s is not used by any test in %s/health_test.yaml", rel, dir)
			}
		}
	}
}

// An object decoded as the API machinery decodes it (int64 numbers) gets the verdict the YAML
// file gets, and kstatus is computed on the same object.
func TestJudgeReadsYAMLAndJSON(t *testing.T) {
	script := string(readFile(t, filepath.Join(customizations, "dbupgrade.dev", "AuroraUpgrade", "health.lua")))
	object := `{"apiVersion": "dbupgrade.dev/v1alpha1", "kind": "AuroraUpgrade",
		"metadata": {"name": "x", "generation": 2},
		"status": {"phase": "AwaitingSwitchover", "observedGeneration": 1, "message": "m"}}`
	for _, input := range []string{object, "apiVersion: dbupgrade.dev/v1alpha1\nkind: AuroraUpgrade\n" +
		"metadata: {name: x, generation: 2}\nstatus: {phase: AwaitingSwitchover, observedGeneration: 1, message: m}\n"} {
		got, err := judge([]byte(input), script)
		if err != nil {
			t.Fatal(err)
		}
		want := report{
			Kstatus: verdict{"InProgress", "AuroraUpgrade generation is 2, but latest observed generation is 1"},
			ArgoCD:  HealthStatus{"Progressing", "Waiting for the operator to act on generation 2"},
		}
		if got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
