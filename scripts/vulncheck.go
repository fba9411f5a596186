//go:build ignore

// Command vulncheck reads the JSON output of `govulncheck -format json` on
// stdin and decides what it means for the run (scripts/test.sh):
//
//   - a vulnerability our code calls, in a module we require, fails the run:
//     it is fixed by a new version in go.mod;
//   - one our code calls in the standard library fails the run when
//     HOOKLINE_VULNCHECK_STDLIB=fail (for CI, which picks its Go), and is
//     reported loudly otherwise: it is fixed by a newer Go toolchain, which a
//     machine may pin (GOTOOLCHAIN=local);
//   - one in code we import or require but do not call is listed only.
//
// It exits 1 when the run must fail.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// message is one JSON value of govulncheck's output; only the fields used.
type message struct {
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
		} `json:"trace"`
	} `json:"finding"`
}

type finding struct {
	id, module, version, fixed, summary string
	called                              bool
}

func main() {
	dec := json.NewDecoder(os.Stdin)
	summaries := map[string]string{}
	found := map[string]*finding{} // by id and module
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "vulncheck: reading govulncheck's output:", err)
			os.Exit(1)
		}
		if m.OSV != nil {
			summaries[m.OSV.ID] = m.OSV.Summary
		}
		if f := m.Finding; f != nil && len(f.Trace) > 0 {
			t := f.Trace[0]
			k := f.OSV + " " + t.Module
			x := found[k]
			if x == nil {
				x = &finding{id: f.OSV, module: t.Module, version: t.Version, fixed: f.FixedVersion}
				found[k] = x
			}
			x.called = x.called || t.Function != ""
		}
	}
	var called, uncalled []*finding
	for _, f := range found {
		f.summary = summaries[f.id]
		if f.called {
			called = append(called, f)
		} else {
			uncalled = append(uncalled, f)
		}
	}
	byID := func(s []*finding) {
		sort.Slice(s, func(i, j int) bool { return s[i].id+s[i].module < s[j].id+s[j].module })
	}
	byID(called)
	byID(uncalled)

	strictStdlib := os.Getenv("HOOKLINE_VULNCHECK_STDLIB") == "fail"
	fail := false
	for _, f := range called {
		what := "FAIL"
		if f.module == "stdlib" && !strictStdlib {
			what = "WARN"
		} else {
			fail = true
		}
		fmt.Printf("%s %s in %s@%s (fixed in %s), called by our code: %s\n", what, f.id, f.module, f.version, orNone(f.fixed), f.summary)
	}
	for _, f := range uncalled {
		fmt.Printf("note %s in %s@%s (fixed in %s), not called: %s\n", f.id, f.module, f.version, orNone(f.fixed), f.summary)
	}
	var stdlib []string
	for _, f := range called {
		if f.module == "stdlib" {
			stdlib = append(stdlib, f.fixed)
		}
	}
	if len(stdlib) > 0 && !strictStdlib {
		sort.Slice(stdlib, func(i, j int) bool { return versionLess(stdlib[i], stdlib[j]) })
		fmt.Printf("\nWARNING: the Go toolchain has %d vulnerabilities that Hookline's code reaches; they are fixed in Go %s.\n"+
			"Build releases with that Go or newer (go.mod's toolchain line asks for it; GOTOOLCHAIN=local ignores it).\n"+
			"Set HOOKLINE_VULNCHECK_STDLIB=fail to fail on them (in CI).\n", len(stdlib), strings.TrimPrefix(stdlib[len(stdlib)-1], "v"))
	}
	if fail {
		os.Exit(1)
	}
	if len(called) == 0 {
		fmt.Println("vulncheck: no known vulnerability reached by our code")
	}
}

// versionLess compares versions such as v1.26.9 and v1.26.10 numerically.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var x, y int
		fmt.Sscan(pa[i], &x)
		fmt.Sscan(pb[i], &y)
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

func orNone(v string) string {
	if v == "" {
		return "no version yet"
	}
	return v
}
