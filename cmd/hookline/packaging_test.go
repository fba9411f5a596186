package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDockerfile checks the image's contract in the Dockerfile (no
// container engine runs here to build it): a static binary on a distroless
// or scratch base, a user that is not root, the data dir a /data volume
// owned by that user; and lints it with dockerfile-utils when
// scripts/test.sh has installed it (packaging/package.json), which
// HOOKLINE_REQUIRE_LINT=1 makes required.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	stages := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(stages) < 2 {
		t.Fatalf("want a build stage and a runtime stage, found %d FROM lines", len(stages))
	}
	final := df[strings.LastIndex(df, "\nFROM "):]
	if base := stages[len(stages)-1][1]; base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("runtime base %q: want scratch or gcr.io/distroless/static…", base)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`CGO_ENABLED=0 go build -trimpath`),          // static
		regexp.MustCompile(`(?m)^USER\s+([1-9][0-9]*|nonroot)(:\S+)?$`), // not root
		regexp.MustCompile(`(?m)^VOLUME\s+\["/data"\]$`),
		regexp.MustCompile(`(?m)^ENV HOOKLINE_DATA_DIR=/data\b`),
		regexp.MustCompile(`(?m)^COPY --from=build --chown=65532:65532 \S+ /data$`), // the volume's owner
		regexp.MustCompile(`(?m)^ENTRYPOINT \["/usr/local/bin/hookline"\]$`),
	} {
		if !want.MatchString(df) {
			t.Errorf("the Dockerfile has no line matching %s", want)
		}
	}
	if m := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(final, -1); len(m) == 0 || strings.HasPrefix(m[len(m)-1][1], "0") || strings.HasPrefix(m[len(m)-1][1], "root") {
		t.Errorf("the runtime stage runs as %v, want a user that is not root", m)
	}

	lint := "../../packaging/node_modules/.bin/dockerfile-utils"
	if _, err := os.Stat(lint); err != nil {
		if os.Getenv("HOOKLINE_REQUIRE_LINT") == "1" {
			t.Fatalf("dockerfile-utils is not installed (cd packaging && npm ci): %v", err)
		}
		t.Skipf("dockerfile-utils is not installed (cd packaging && npm ci): %v", err)
	}
	out, err := exec.Command(lint, "lint", "../../Dockerfile").CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("dockerfile-utils lint: %v\n%s", err, out)
	}
}

// TestSystemdUnit checks packaging/systemd/hookline.service with
// systemd-analyze (Debian's systemd package): verify finds no error, and
// the offline security review rates its exposure at most 2.0 of 10 (1.2
// when written). It names the unit's hardening options it relies on, so
// that dropping one fails here too.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../packaging/systemd/hookline.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=hookline", "StateDirectoryMode=0700", "HOOKLINE_DATA_DIR=%S/hookline",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service",
		"ExecStart=/usr/local/bin/hookline serve\n", "KillSignal=SIGTERM"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit has no %q", want)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skipf("systemd-analyze is not installed (Debian's systemd package): %v", err)
	}
	// verify wants ExecStart's binary to exist: this package's.
	path := filepath.Join(t.TempDir(), "hookline.service")
	unit = strings.Replace(unit, "ExecStart=/usr/local/bin/hookline ", "ExecStart="+binary+" ", 1)
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for hookline\.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if e, err := strconv.ParseFloat(string(m[1]), 64); err != nil || e > 2.0 {
		t.Errorf("exposure %s, want at most 2.0:\n%s", m[1], out)
	}
}
