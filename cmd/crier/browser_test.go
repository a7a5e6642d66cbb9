package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	consolefiles "github.com/crier/crier/console"
)

// The console's browser tests drive Debian's Chromium (scripts/test.sh
// installs it) through the DevTools protocol: pages are used as a person
// uses them, by their labels, buttons and keys.

// tab is one browser tab a test drives.
type tab struct {
	ctx context.Context
	t   *testing.T
}

// browser starts a headless Chromium for the test at 1280×900 and returns
// its first tab. Without Chromium or the console's compiled JavaScript the
// test skips, or fails where `make test` promised both.
func browser(t *testing.T) *tab {
	t.Helper()
	need := func(what string) {
		msg := what + ": the console's browser tests need it (make test provides it)"
		if os.Getenv("CRIER_TEST_SERVICES") == "required" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		need("Chromium is not installed (Debian: apt-get install chromium)")
	}
	if !consolefiles.Built() {
		need("the console's JavaScript is not built (make console)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "start Chromium")
	return &tab{ctx: ctx, t: t}
}

// person is one browser tab with a cookie jar of its own (a browser
// context), as a second person at another computer has.
func (b *tab) person() *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	require.NoError(b.t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	return &tab{ctx: ctx, t: b.t}
}

// do runs steps in tab within 30 s, failing the test with what it was doing.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.doWithin(30*time.Second, what, steps...)
}

// doWithin is do with another bound.
func (b *tab) doWithin(d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("main") ? document.querySelector("main").innerText : document.body.innerText`))
		b.t.Fatalf("%s: %v\nthe page at the time:\n%s", what, err, body)
	}
}

// eval evaluates js in tab.
func eval[T any](b *tab, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	require.NoError(b.t, err, js)
	return v
}

// byLabel is the control a <label> with this text is for.
func byLabel(text string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`(() => { const l = [...document.querySelectorAll("label")].find((l) => l.textContent.trim() === %s && l.offsetParent !== null); return l ? document.getElementById(l.htmlFor) : null })()`, jsString(text)))
}

// button is the visible button or link whose text is text.
func button(text string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`[...document.querySelectorAll("button, a.button, a")].find((b) => b.textContent.trim() === %s && b.offsetParent !== null) || null`, jsString(text)))
}

// clearText empties the text control sel finds, as selecting all and deleting
// does (with the input event that follows).
func clearText(sel chromedp.JSPath) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = %s; e.value = ""; e.dispatchEvent(new Event("input", { bubbles: true })) })()`, sel),
		chromedp.EvalIgnoreExceptions)
}

// waitText waits until the element sel finds shows text, across page
// loads (a poll that a navigation interrupts starts again on the new page).
func waitText(sel string, text string) chromedp.Action[chromedp.Void] {
	return pollUntil(fmt.Sprintf(`[...document.querySelectorAll(%s)].some((e) => e.innerText.includes(%s))`, jsString(sel), jsString(text)))
}

func pollUntil(predicate string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			_, err := chromedp.Poll[bool](predicate, chromedp.WithPollingInterval(100*time.Millisecond))(ctx, t)
			if err == nil || ctx.Err() != nil || !navigated(err) {
				return chromedp.Void{}, err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// navigated reports whether err says the page went away under a script.
func navigated(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "navigated or closed") || strings.Contains(msg, "Cannot find context") || strings.Contains(msg, "Execution context was destroyed")
}

// waitRow waits until the table row that shows title also shows text.
func waitRow(title, text string) chromedp.Action[chromedp.Void] {
	return pollUntil(fmt.Sprintf(`[...document.querySelectorAll("tbody tr")].some((r) => r.innerText.includes(%s) && r.innerText.includes(%s))`, jsString(title), jsString(text)))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot saves the tab as CRIER_SCREENSHOTS/name.png (default
// .test/screenshots), for people to look at and for the README.
func (b *tab) screenshot(name string) {
	t := b.t
	t.Helper()
	dir := os.Getenv("CRIER_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".test", "screenshots")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// axeViolation is one rule axe-core found broken, with where.
type axeViolation struct {
	ID, Impact, Help string
	Nodes            []struct{ Target []string }
}

// requireAccessible runs axe-core (npm, console/node_modules) over the page
// the tab shows and fails on any serious or critical violation.
func (b *tab) requireAccessible(page string) {
	t := b.t
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "console", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is not installed (make console runs npm ci): %v", err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(src)+";true")); err != nil {
		t.Fatalf("load axe-core into %s: %v", page, err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](
		`axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations.filter((v) => v.impact === "serious" || v.impact === "critical"))`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, err, "axe-core on %s", page)
	var lines []string
	for _, v := range found {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, strings.Join(n.Target, " "))
		}
		lines = append(lines, fmt.Sprintf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(where, ", ")))
	}
	require.Empty(t, lines, "axe-core found serious or critical violations on %s", page)
}
