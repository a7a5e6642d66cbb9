package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/config"
)

// readmePath is the README, from this package's directory (where go test runs).
const readmePath = "../../README.md"

// TestMain lets this test binary stand in for the crier binary `make dev`
// builds: TestREADME links it as .dev/bin/crier, and run under that name it
// is crier, so the README's `.dev/bin/crier token ...` runs the real command
// without a second build.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "crier" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// readmeBlock is one fenced ```sh block of the README.
type readmeBlock struct {
	line    int    // the line of its opening fence
	code    string // its lines, as a user would paste them
	notRun  string // the reason given by a `<!-- not run: reason -->` line just before it
	fenceOf string // the fence's language
}

var (
	fenceRE  = regexp.MustCompile("^```([A-Za-z0-9_-]*)\\s*$")
	notRunRE = regexp.MustCompile(`^<!-- not run: (.+) -->$`)
)

// readmeBlocks returns every fenced block of the file at path with its
// language; blocks without one (diagrams) are left out.
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var (
		blocks []readmeBlock
		open   *readmeBlock
		prev   string
		lines  []string
	)
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := fenceRE.FindStringSubmatch(line)
		switch {
		case open != nil && line == "```":
			open.code = strings.Join(lines, "\n") + "\n"
			if open.fenceOf != "" {
				blocks = append(blocks, *open)
			}
			open, lines = nil, nil
		case open != nil:
			lines = append(lines, line)
		case m != nil:
			open = &readmeBlock{line: n, fenceOf: m[1]}
			if r := notRunRE.FindStringSubmatch(prev); r != nil {
				open.notRun = r[1]
			}
		}
		prev = strings.TrimSpace(line)
	}
	require.NoError(t, sc.Err())
	require.Nil(t, open, "%s: a block opened at line %d never closes", path, lineOf(open))
	return blocks
}

func lineOf(b *readmeBlock) int {
	if b == nil {
		return 0
	}
	return b.line
}

// blockTimeout bounds one block; the slowest takes about 10 s.
const blockTimeout = 2 * time.Minute

// optionalTools are commands a README block may use that CI does not
// install; a block using one is skipped, saying so, where it is missing.
var optionalTools = []string{"kcat"}

// TestREADME runs every ```sh block of the README as a new user would paste
// it in a fresh shell after `make dev`: each in its own `bash -euo pipefail`,
// in a directory laid out like the repository after `make dev` (.dev/env,
// .dev/bin/crier, .tools/bin/temporal), against a `crier all` on the test's
// own services. The environment holds only PATH, HOME, LANG, CURL_HOME and
// the test's topic (CRIER_KAFKA_TOPIC, for kcat): what a block needs it
// sources from .dev/env. Blocks run in parallel, so one that leans on
// another's variables or files fails. curl is made strict through
// $CURL_HOME/.curlrc (--fail-with-body), so an HTTP error fails the block as
// a shell error would.
func TestREADME(t *testing.T) { //nolint:tparallel // its node reads its configuration from the environment (t.Setenv), which a parallel test may not set
	blocks := readmeBlocks(t, readmePath)
	var shell []readmeBlock
	for _, b := range blocks {
		switch b.fenceOf {
		case "sh":
			shell = append(shell, b)
		case "bash", "shell", "console", "zsh":
			t.Errorf("README.md:%d: fence shell commands as ```sh so this test runs them (or mark them <!-- not run: why -->)", b.line)
		}
	}
	require.NotEmpty(t, shell, "no ```sh block found in the README")

	s := newStack(t)
	n := s.start(t, "all", "readme-node")
	dir := devLayout(t, s, n)
	home := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(home, ".curlrc"), []byte(
		"# Written by TestREADME: an HTTP error answer fails the README block.\nfail-with-body\nshow-error\n"), 0o600))
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CURL_HOME=" + home, "LANG=C.UTF-8",
		// The test's Crier has a topic of its own; make dev's is the default.
		"CRIER_KAFKA_TOPIC=" + s.env["CRIER_KAFKA_TOPIC"]}

	for _, b := range shell {
		t.Run(fmt.Sprintf("line_%d", b.line), func(t *testing.T) {
			t.Parallel()
			if b.notRun != "" {
				t.Skipf("README.md:%d is marked not run: %s", b.line, b.notRun)
			}
			for _, tool := range optionalTools {
				if regexp.MustCompile(`\b` + tool + `\b`).MatchString(b.code) {
					if _, err := exec.LookPath(tool); err != nil {
						t.Skipf("README.md:%d needs %s, which is not installed", b.line, tool)
					}
				}
			}
			if strings.Contains(b.code, ".tools/bin/temporal") {
				if _, err := os.Stat(filepath.Join(dir, ".tools/bin/temporal")); err != nil {
					t.Skipf("README.md:%d needs the Temporal CLI, .tools/bin/temporal, which is not built (make tools builds it)", b.line)
				}
			}
			runBlock(t, b, dir, env)
		})
	}
}

// runBlock runs one block and fails with the README line of the command
// that failed and everything the block printed.
func runBlock(t *testing.T, b readmeBlock, dir string, env []string) {
	ctx, cancel := context.WithTimeout(context.Background(), blockTimeout)
	defer cancel()
	// The trap is on a line of its own before the block, so the block's line
	// k is the script's line k+1 and README line b.line+k.
	script := fmt.Sprintf("trap 'printf \"\\nREADME.md:%%d: exit %%d: %%s\\n\" $((LINENO + %d)) $? \"$BASH_COMMAND\" >&2' ERR\n%s", b.line-1, b.code)
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	// On timeout the whole block goes, curl included, not only its shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("README.md:%d: the block did not finish within %s (bound long-running commands, e.g. curl --max-time); output:\n%s", b.line, blockTimeout, out)
	}
	if err != nil {
		t.Fatalf("README.md:%d: the block failed (%v); output:\n%s", b.line, err, out)
	}
	t.Logf("README.md:%d output:\n%s", b.line, out)
}

// devLayout makes a directory laid out as the repository is after `make
// dev`, for the running node n: .dev/env as scripts/dev.sh writes it,
// .dev/bin/crier (this test binary, see TestMain) and .tools/bin/temporal
// (the repository's, when built).
func devLayout(t *testing.T, s *stack, n *node) string {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, ".dev/bin"), 0o750))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, ".tools/bin"), 0o750))
	self, err := os.Executable()
	require.NoError(t, err)
	require.NoError(t, os.Symlink(self, filepath.Join(dir, ".dev/bin/crier")))
	if cli, err := filepath.Abs("../../.tools/bin/temporal"); err == nil {
		if _, err := os.Stat(cli); err == nil {
			require.NoError(t, os.Symlink(cli, filepath.Join(dir, ".tools/bin/temporal")))
		}
	}
	token, err := auth.Issue([]byte(config.DevJWTSecret), "admin", "Crier Admin", []string{auth.RoleAdmin}, time.Hour, time.Now())
	require.NoError(t, err)
	addr := strings.TrimPrefix(n.baseURL, "http://")
	vars := []struct{ name, value string }{
		{"DATABASE_URL", s.env["DATABASE_URL"]}, {"KAFKA_BROKERS", s.env["KAFKA_BROKERS"]},
		{"TEMPORAL_ADDRESS", s.env["TEMPORAL_ADDRESS"]}, {"TEMPORAL_UI_URL", ""},
		{"CRIER_HTTP_ADDR", addr}, {"CRIER_API_URL", n.baseURL}, {"CRIER_ADMIN_TOKEN", token},
	}
	var env strings.Builder
	env.WriteString("# Written by TestREADME, as scripts/dev.sh writes it. Source it: . .dev/env\n")
	for _, v := range vars {
		require.NotContains(t, v.value, "'")
		fmt.Fprintf(&env, "export %s='%s'\n", v.name, v.value)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".dev/env"), []byte(env.String()), 0o600))
	return dir
}
