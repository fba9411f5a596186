package main_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// walkthroughSection is the README section whose shell blocks
// TestReadmeWalkthrough runs.
const walkthroughSection = "## Five minutes with the CLI"

// shellLine is one command of the walk-through.
type shellLine struct {
	text       string // the command, continuation lines joined, without a trailing comment
	background bool   // it ends with & and runs beside the others
}

// walkthrough returns the commands of the fenced sh blocks of the README
// section that starts with heading, up to the next "## " section: lines
// ending in \ are joined to the next one, blank lines and lines that are
// only a comment (the example answers) are left out, and a trailing
// "  # comment" is cut.
func walkthrough(readme, heading string) ([]shellLine, error) {
	start := strings.Index(readme, "\n"+heading+"\n")
	if start < 0 {
		return nil, fmt.Errorf("no section %q", heading)
	}
	section := readme[start+len(heading)+2:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	trailing := regexp.MustCompile(`\s{2,}#.*$|\s+#\s[^'"]*$`)
	var lines []shellLine
	inBlock, cont := false, ""
	for _, l := range strings.Split(section, "\n") {
		switch {
		case !inBlock && strings.HasPrefix(l, "```sh"):
			inBlock = true
			continue
		case inBlock && strings.HasPrefix(l, "```"):
			inBlock = false
			continue
		case !inBlock:
			continue
		}
		if strings.HasSuffix(l, `\`) {
			cont += strings.TrimSuffix(l, `\`)
			continue
		}
		l, cont = cont+l, ""
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		t = strings.TrimSpace(trailing.ReplaceAllString(t, ""))
		bg := strings.HasSuffix(t, "&") && !strings.HasSuffix(t, "&&")
		lines = append(lines, shellLine{text: strings.TrimSpace(strings.TrimSuffix(t, "&")), background: bg})
	}
	if inBlock || cont != "" {
		return nil, fmt.Errorf("section %q: a block or a line does not end", heading)
	}
	return lines, nil
}

// ready is what a background command of the walk-through prints once it
// serves, by its first two words.
var ready = map[string]string{
	"hookline serve":  "hookline serving",
	"hookline listen": "Listening on ",
}

// TestWalkthroughParse pins how the walk-through is read.
func TestWalkthroughParse(t *testing.T) {
	t.Parallel()
	md := "# x\n\n" + walkthroughSection + "\n\ntext `not this`\n\n```sh\nhookline serve --a 1 &   # a comment\n" +
		"# {\"an\":\"answer\"}\ncurl -s x \\\n  -d '{\"a\":1}'\n\nA=$(b | jq -r '.[0].id')   # why\n```\n\n```go\nnot shell\n```\n" +
		"\n## Next\n\n```sh\nnot run\n```\n"
	got, err := walkthrough(md, walkthroughSection)
	if err != nil {
		t.Fatal(err)
	}
	want := []shellLine{{"hookline serve --a 1", true}, {`curl -s x   -d '{"a":1}'`, false}, {`A=$(b | jq -r '.[0].id')`, false}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := walkthrough(md, "## Missing"); err == nil {
		t.Error("a missing section: no error")
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestReadmeWalkthrough runs every command of the README's five-minute
// walk-through, in order, in one bash script (set -e: the first failure
// stops it) in a fresh directory, with this package's binary as hookline
// on the PATH and curl set to fail on an error status. The ports 8080 and
// 9000 of the text are replaced by free ones. A background command (&)
// runs until the end, and the next command waits until it prints that it
// serves. Then the listener must have printed verified deliveries and
// the curl endpoint's unverified one.
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walk-through needs %s: %v", tool, err)
		}
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := walkthrough(string(b), walkthroughSection)
	if err != nil {
		t.Fatal(err)
	}
	api, listen := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	ports := strings.NewReplacer("localhost:8080", "127.0.0.1:"+api, "127.0.0.1:8080", "127.0.0.1:"+api,
		"127.0.0.1:9000", "127.0.0.1:"+listen)

	dir, curlHome := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(curlHome, ".curlrc"), []byte("fail-with-body\nmax-time = 30\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString(`set -euo pipefail
PS4='+ walkthrough: '
bg=()
stop() { for ((i=${#bg[@]}-1; i>=0; i--)); do kill -TERM "${bg[i]}" 2>/dev/null || true; wait "${bg[i]}" 2>/dev/null || true; done; }
trap stop EXIT
# await FILE TEXT: poll FILE for TEXT for at most 30 s.
await() {
	local deadline=$((SECONDS + 30))
	until grep -qF -- "$2" "$1"; do
		if ((SECONDS > deadline)); then echo "walkthrough: no \"$2\" in $1 within 30s:" >&2; cat "$1" >&2; exit 1; fi
		sleep 0.05
	done
}
set -x
`)
	var listenLog string
	for i, l := range lines {
		cmd := ports.Replace(l.text)
		if !l.background {
			script.WriteString(cmd + "\n")
			continue
		}
		f := strings.Fields(cmd)
		want, ok := "", len(f) >= 2
		if ok {
			want, ok = ready[f[0]+" "+f[1]]
		}
		if !ok {
			t.Fatalf("background command %q: the test does not know what it prints once it serves (add it to ready)", l.text)
		}
		log := filepath.Join(dir, fmt.Sprintf("background-%d.log", i))
		if f[1] == "listen" {
			listenLog = log
		}
		fmt.Fprintf(&script, "%s > %q 2>&1 &\nbg+=($!)\nawait %q %q\n", cmd, log, log, want)
	}
	if listenLog == "" {
		t.Fatal("the walk-through starts no hookline listen")
	}
	// Before the background commands stop: the listener gets the
	// deliveries, the CLI's verified and the curl endpoint's not.
	fmt.Fprintf(&script, "await %q ' verified  -> 200'\nawait %q 'NOT VERIFIED'\n", listenLog, listenLog)

	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = cleanEnv("PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOOKLINE_ADDR=127.0.0.1:"+api, "HOOKLINE_URL=http://127.0.0.1:"+api, "CURL_HOME="+curlHome)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		err = fmt.Errorf("still running after 2 minutes: %w", <-done)
	}
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(dir, "background-*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			out.WriteString("\n--- " + filepath.Base(l) + ":\n" + string(b))
		}
		t.Fatalf("the walk-through failed: %v\n%s", err, out.String())
	}

	got, err := os.ReadFile(listenLog)
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	has(t, "hookline listen", s, "Created the temporary endpoint ep_", "invoice.paid  verified  -> 200", `"amount": 4200`,
		"NOT VERIFIED", "-> 400", "Deleted the temporary endpoint")
	has(t, "the walk-through", out.String(), "Sent evt_", "delivered", "Pending:")
}
