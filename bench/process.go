package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is a Hookline process the bench started, or a Target's PID.
type server struct {
	url string
	pid int // 0 when unknown
	cmd *exec.Cmd
	log *tail
	// exited is closed when the process has exited; err is then its error.
	exited chan struct{}
	err    error
}

// servingRE finds the address in the log line "hookline serving addr=…",
// in text or JSON logs.
var servingRE = regexp.MustCompile(`"?addr"?[=:]"?([0-9a-fA-F.:\[\]]+:[0-9]+)`)

// startServer runs `binary serve` with args and waits until it logs that
// it is serving. Its stderr goes to logTo and the last lines are kept for
// error messages. The child is killed if the bench dies.
func startServer(ctx context.Context, binary string, args []string, logTo io.Writer) (*server, error) {
	s := &server{log: &tail{max: 40}, exited: make(chan struct{})}
	s.cmd = exec.Command(binary, append([]string{"serve"}, args...)...)
	s.cmd.SysProcAttr = dieWithParent()
	pr, pw := io.Pipe()
	s.cmd.Stdout = io.MultiWriter(s.log, logTo)
	s.cmd.Stderr = io.MultiWriter(s.log, logTo, pw)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	s.pid = s.cmd.Process.Pid
	go func() {
		s.err = s.cmd.Wait()
		pw.Close()
		close(s.exited)
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "hookline serving") {
				if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
					select {
					case addr <- m[1]:
					default:
					}
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case a := <-addr:
		s.url = "http://" + a
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("hookline serve exited before serving: %v\n%s", s.err, s.log)
	case <-timer.C:
		err := errors.New("hookline serve did not log \"hookline serving\" within 60s")
		_ = s.kill()
		return nil, fmt.Errorf("%w\n%s", err, s.log)
	case <-ctx.Done():
		_ = s.kill()
		return nil, ctx.Err()
	}
}

// stop sends SIGTERM and waits for a clean exit, killing the process after
// a minute. It returns the process's total CPU time and peak RSS from its
// resource usage.
func (s *server) stop() (cpu time.Duration, maxRSS int64, err error) {
	if s.cmd == nil {
		return 0, 0, nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	select {
	case <-s.exited:
		err = s.err
	case <-timer.C:
		err = s.kill()
		if err == nil {
			err = errors.New("did not exit within a minute of SIGTERM; killed")
		}
	}
	if ru, ok := s.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		maxRSS = ru.Maxrss * 1024
	}
	if err != nil {
		err = fmt.Errorf("hookline serve (pid %d): %w\n%s", s.pid, err, s.log)
	}
	return cpu, maxRSS, err
}

// kill ends the process at once and waits for it.
func (s *server) kill() error {
	err := s.cmd.Process.Kill()
	<-s.exited
	return err
}

// alive returns an error when the process has exited.
func (s *server) alive() error {
	if s.exited == nil {
		return nil
	}
	select {
	case <-s.exited:
		return fmt.Errorf("hookline serve (pid %d) exited: %v\n%s", s.pid, s.err, s.log)
	default:
		return nil
	}
}

// procUsage is a process's memory and CPU, read from /proc.
type procUsage struct {
	PeakRSS int64         // VmHWM, bytes
	RSS     int64         // VmRSS, bytes
	CPU     time.Duration // user + system
}

// readProc reads /proc/<pid>/status and /proc/<pid>/stat.
func readProc(pid int) (procUsage, error) {
	var u procUsage
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return u, err
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, ":")
		if k == "VmHWM" || k == "VmRSS" {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				if k == "VmHWM" {
					u.PeakRSS = n * 1024
				} else {
					u.RSS = n * 1024
				}
			}
		}
	}
	b, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return u, err
	}
	// The command name (field 2) may hold spaces; fields count from after it.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 {
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 12 {
			ut, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
			st, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
			u.CPU = time.Duration(ut+st) * time.Second / clockTicks
		}
	}
	return u, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// tail keeps the last max lines written to it.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(t.part[:i]))
		t.part = t.part[i+1:]
		if len(t.lines) > t.max {
			t.lines = t.lines[len(t.lines)-t.max:]
		}
	}
	if len(t.part) > 4096 {
		t.part = t.part[:0]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
