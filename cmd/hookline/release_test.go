package main_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// releasePlatforms are the GOOS/GOARCH pairs of `make release`.
var releasePlatforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}

// TestRelease runs `make release` and checks each binary: built for its
// platform, static (no cgo, no ELF interpreter), -trimpath, stamped with
// the version, and listed in SHA256SUMS with its hash; the one of this
// machine's platform runs and reports the version. It builds this
// machine's platform only, which shares the compiled packages of this
// package's TestMain; HOOKLINE_TEST_RELEASE=all (make test/release) builds
// all four, about a minute each on a cold build cache.
func TestRelease(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skipf("make release needs make: %v", err)
	}
	host := runtime.GOOS + "/" + runtime.GOARCH
	platforms := []string{host}
	if os.Getenv("HOOKLINE_TEST_RELEASE") == "all" {
		platforms = releasePlatforms
	} else if !slices.Contains(releasePlatforms, host) {
		t.Skipf("%s is not a release platform; HOOKLINE_TEST_RELEASE=all builds them all", host)
	}
	const version = "v0.0.0-releasetest"
	dist := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "release", "DIST="+dist, "VERSION="+version, "PLATFORMS="+strings.Join(platforms, " "))
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}

	sums := map[string]string{}
	f, err := os.Open(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: line %q", sc.Text())
		}
		sums[name] = sum
	}
	if len(sums) != len(platforms) {
		t.Errorf("SHA256SUMS lists %d files, want %d: %v", len(sums), len(platforms), sums)
	}

	for _, p := range platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		name := "hookline-" + version + "-" + goos + "-" + goarch
		path := filepath.Join(dist, name)
		t.Run(p, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if h := sha256.Sum256(b); sums[name] != hex.EncodeToString(h[:]) {
				t.Errorf("SHA256SUMS has %q for %s, the file hashes to %x", sums[name], name, h)
			}
			bi, err := buildinfo.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			for k, want := range map[string]string{"GOOS": goos, "GOARCH": goarch, "CGO_ENABLED": "0", "-trimpath": "true"} {
				if settings[k] != want {
					t.Errorf("build setting %s = %q, want %q", k, settings[k], want)
				}
			}
			// -trimpath leaves -ldflags out of the build info: the version
			// stamped with -X is a string in the binary.
			if !bytes.Contains(b, []byte(version)) {
				t.Errorf("the version %s is not stamped in the binary", version)
			}
			switch goos {
			case "linux":
				e, err := elf.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				if want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]; e.Machine != want {
					t.Errorf("ELF machine %v, want %v", e.Machine, want)
				}
				for _, prog := range e.Progs {
					if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
						t.Errorf("not static: the ELF has a %v program header", prog.Type)
					}
				}
			case "darwin":
				m, err := macho.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[goarch]; m.Cpu != want {
					t.Errorf("Mach-O CPU %v, want %v", m.Cpu, want)
				}
			}
			if p == host {
				out, err := exec.Command(path, "version").CombinedOutput()
				if err != nil || !strings.Contains(string(out), version) {
					t.Errorf("%s version: %v, %q; want %s", name, err, out, version)
				}
			}
		})
	}
}
