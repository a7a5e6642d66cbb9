package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/auth"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/config"
	"github.com/crier/crier/internal/testenv"
)

// TestConsoleInABrowser uses the admin console on the real services in
// Chromium, as an admin and a broadcaster would: sign in with a token,
// compose with a mistake and see it at its field, schedule a broadcast 10 s
// ahead and watch it turn SENT in the list without a reload, cancel it from
// its page with the keyboard and see the retraction in its timeline; a
// broadcaster sees only their own; cross-site forms change nothing; axe-core
// finds nothing serious on any page, at 1280 px and on a phone. It saves the
// README's screenshots.
func TestConsoleInABrowser(t *testing.T) {
	c := newConsoleRun(t)
	c.signInWithAToken()
	c.composeWithAMistake()
	c.scheduleTenSecondsAhead()
	c.watchItTurnSent()
	c.cancelWithTheKeyboard()
	c.broadcasterSeesOnlyTheirOwn()
	c.crossSiteFormsChangeNothing()
	c.pauseASeries()
	c.seeTheNodesHealth()
	c.importUsers()
	c.readTheAuditLog()
	c.everyPageIsAccessible()
	c.signOut()
}

// consoleRun is one node, its users and the admin's browser tab.
type consoleRun struct {
	t               *testing.T
	n               *node
	tab             *tab
	admin, bea, ann string
	annStream       *sseClient
}

func newConsoleRun(t *testing.T) *consoleRun {
	b := browser(t)
	s := newStack(t)
	s.env["CRIER_TEMPORAL_UI_URL"] = "http://127.0.0.1:8233"
	c := &consoleRun{t: t, tab: b, n: s.start(t, "all", "node-console")}
	issue := func(sub, name string, roles ...string) string {
		tok, err := auth.Issue([]byte(config.DevJWTSecret), sub, name, roles, time.Hour, time.Now())
		require.NoError(t, err)
		return tok
	}
	c.admin, c.bea, c.ann = issue("ada", "Ada Admin", auth.RoleAdmin), issue("bea", "Bea Broadcaster", auth.RoleBroadcaster), issue("ann", "Ann Operator", "ops")
	for _, u := range []struct{ id, name, role string }{{"ann", "Ann Operator", "ops"}, {"bob", "Bob Operator", "ops"}, {"cy", "Cy Sales", "sales"}} {
		require.Equal(t, http.StatusOK, call(t, c.n, c.admin, http.MethodPut, "/api/v1/users/"+u.id,
			map[string]any{"name": u.name, "roles": []string{u.role}}, nil))
	}
	createOn(t, c.n, c.bea, map[string]any{"title": "Bea's own note", "content": "for sales", "category": "sales",
		"target": map[string]any{"type": "ROLE", "ids": []string{"sales"}}})
	// A node answers /readyz before its stream tail has started reading the
	// topic (on a fresh Kafka, seconds later), refusing streams with 503
	// meanwhile; the client retries, as browsers' EventSource does.
	testenv.Eventually(t, 60*time.Second, func() error {
		c.annStream = openStream(t, t, "ann", c.n.baseURL, c.ann, "")
		if c.annStream.status != http.StatusOK {
			return fmt.Errorf("the stream answered %d", c.annStream.status)
		}
		return nil
	})
	return c
}

// signInWithAToken: a stranger is sent to the sign-in page, and once the
// token is pasted, on; the cookie is out of every script's reach.
func (c *consoleRun) signInWithAToken() {
	c.tab.do("open the console", chromedp.Navigate(c.n.baseURL+"/admin/"), waitText("h1", "Sign in to Crier"))
	c.tab.requireAccessible("sign-in")
	c.tab.screenshot("console-signin")
	c.tab.do("sign in with a token",
		chromedp.SendKeys(byLabel("Token"), c.admin),
		chromedp.Click(button("Sign in")),
		waitText("h1", "Broadcasts"),
		waitText("#user", "Ada Admin"))
	require.NotContains(c.t, eval[string](c.tab, `document.cookie`), auth.CookieName, "the session cookie is HttpOnly")
}

// composeWithAMistake: the API's error shows at its field and the summary
// takes the focus.
func (c *consoleRun) composeWithAMistake() {
	c.tab.do("compose without a title",
		chromedp.Click(button("Compose")),
		waitText("h1", "Compose a broadcast"),
		chromedp.SendKeys(byLabel("Content"), "The portal is down 22:00-23:00 UTC."),
		chromedp.Click(button("Send now")),
		waitText(".field-error", "must not be empty"))
	require.Equal(c.t, "true", eval[string](c.tab, `document.getElementById([...document.querySelectorAll("label")].find((l) => l.textContent.trim() === "Title").htmlFor).getAttribute("aria-invalid")`))
	require.True(c.t, eval[bool](c.tab, `document.activeElement.classList.contains("error-summary")`), "the error summary takes the focus")
	c.tab.requireAccessible("compose, with an error")
}

// scheduleTenSecondsAhead: to the ops role (whose reach is counted before
// sending), 10 s ahead in UTC, previewed as users will see it.
func (c *consoleRun) scheduleTenSecondsAhead() {
	at := time.Now().UTC().Add(10 * time.Second).Truncate(time.Second)
	c.tab.do("compose a scheduled broadcast",
		chromedp.SendKeys(byLabel("Title"), "Maintenance tonight"),
		chromedp.SendKeys(byLabel("Category"), "ops"),
		chromedp.Click(chromedp.CSS(`input[name=target][value=ROLE]`)),
		chromedp.SendKeys(byLabel("Roles"), "ops\r"),
		waitText(".reach", "Reaches 2 users"),
		chromedp.Click(chromedp.CSS(`input[name=when][value=at]`)),
		chromedp.SetValue(byLabel("Date"), at.Format("2006-01-02")),
		chromedp.SetValue(byLabel("Time"), at.Format("15:04:05")),
		chromedp.SetValue(byLabel("Time zone"), "UTC"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("form.compose").dispatchEvent(new Event("input", { bubbles: true }))`, chromedp.EvalIgnoreExceptions),
		waitText(".instant", at.Format("15:04")),
		waitText(".preview", "Maintenance tonight"))
	c.tab.requireAccessible("compose")
	c.tab.screenshot("console-compose")
	c.tab.do("schedule it", chromedp.Click(button("Schedule")), waitText("h1", "Maintenance tonight"), waitText("h1 .badge", "Scheduled"))
}

// watchItTurnSent: the list shows it SENT at its time, with no reload.
func (c *consoleRun) watchItTurnSent() {
	c.tab.do("open the list", chromedp.Click(button("Broadcasts")), waitRow("Maintenance tonight", "Scheduled"))
	eval[bool](c.tab, `window.notReloaded = true`)
	c.tab.doWithin(40*time.Second, "wait for it to turn SENT", waitRow("Maintenance tonight", "Sent"))
	require.True(c.t, eval[bool](c.tab, `window.notReloaded === true`), "the page was not reloaded")
	require.Contains(c.t, eval[string](c.tab, `document.querySelector("tbody").innerText`), "Bea's own note", "an admin sees everyone's")
	c.tab.requireAccessible("broadcasts")
	c.tab.screenshot("console-broadcasts")

	// Ann's app shows it and she reads it: its page counts both.
	mine := onlyMatch(c.t, c.n, c.admin, "Maintenance tonight")
	c.annStream.expect(c.t, "broadcast", mine.ID)
	require.Equal(c.t, http.StatusOK, call(c.t, c.n, c.ann, http.MethodPost, "/api/v1/me/broadcasts/"+mine.ID.String()+"/read", nil, nil))
}

// cancelWithTheKeyboard: from its page, confirmed in a dialog, with keys
// alone; the timeline shows the retraction and who cancelled.
func (c *consoleRun) cancelWithTheKeyboard() {
	c.tab.do("open it", chromedp.Click(button("Maintenance tonight")), waitText("h1 .badge", "Sent"),
		waitText(".stats", "1 read"), waitText(".timeline", "Published"))
	c.tab.requireAccessible("a broadcast")
	c.tab.screenshot("console-broadcast")
	c.tab.do("cancel it with the keyboard",
		chromedp.Focus(button("Cancel…")),
		chromedp.KeyEvent("\r"),
		waitText("dialog", "Cancel this broadcast?"),
		chromedp.KeyEvent("\r"), // the dialog's focus is on its confirm button
		waitText("h1 .badge", "Cancelled"),
		waitText(".timeline", "Retracted"),
		waitText(".timeline", "Cancelled by Ada Admin"))
	// With its button gone, the focus goes to the heading showing the new
	// status (once the dialog's close event has run).
	c.tab.do("focus on the heading", pollUntil(`document.activeElement.tagName === "H1"`))
}

// broadcasterSeesOnlyTheirOwn: in another browser, a broadcaster's list and
// navigation hold only what is theirs, and an admin's broadcast is not
// found by its address either.
func (c *consoleRun) broadcasterSeesOnlyTheirOwn() {
	other := c.tab.person()
	other.do("sign in as a broadcaster",
		chromedp.Navigate(c.n.baseURL+"/admin/signin"),
		chromedp.SendKeys(byLabel("Token"), c.bea),
		chromedp.Click(button("Sign in")),
		waitText("tbody", "Bea's own note"))
	require.NotContains(c.t, eval[string](other, `document.querySelector("tbody").innerText`), "Maintenance tonight")
	require.NotContains(c.t, eval[string](other, `document.querySelector("#nav").innerText`), "Audit log", "no admin pages in a broadcaster's navigation")
	mine := onlyMatch(c.t, c.n, c.admin, "Maintenance tonight")
	other.do("open an admin's broadcast by its address",
		chromedp.Navigate(c.n.baseURL+"/admin/broadcasts/"+mine.ID.String()),
		waitText(".alert", "no broadcast has id"))
}

// crossSiteFormsChangeNothing: a page on another site (localhost is not the
// site 127.0.0.1) and one on the same site but another origin (another
// port) each post a broadcast, and a sign-out, with the admin's browser.
// Nothing changes: the Strict cookie does not go to another site, and the
// origin guard refuses another origin.
func (c *consoleRun) crossSiteFormsChangeNothing() {
	before := len(allBroadcasts(c.t, c.n, c.admin))
	for name, pageHost := range map[string]string{"another site": "localhost", "another origin of the site": "127.0.0.1"} {
		for _, form := range []string{
			`<form id=f method=POST enctype="text/plain" action="%s/api/v1/broadcasts"><input name='{"title":"forged","content":"x","target":{"type":"ALL"},"pad":"' value='"}'></form>`,
			`<form id=f method=POST action="%s/admin/session/end"></form>`,
		} {
			evil := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprintf(w, form+`<script>document.getElementById("f").submit()</script>`, c.n.baseURL)
			}))
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(c.t, err)
			evil.Listener = l
			evil.Start()
			c.tab.do("visit "+name, chromedp.Navigate("http://"+strings.Replace(l.Addr().String(), "127.0.0.1", pageHost, 1)), chromedp.Sleep(time.Second))
			evil.Close()
		}
	}
	require.Len(c.t, allBroadcasts(c.t, c.n, c.admin), before, "no cross-site form stored a broadcast")
	c.tab.do("still signed in", chromedp.Navigate(c.n.baseURL+"/admin/"), waitText("#user", "Ada Admin"))
}

// pauseASeries: composed as a series (a bad cron shown at its field first),
// its page shows its next occurrences in UTC and in its zone, and pauses it
// (confirmed).
func (c *consoleRun) pauseASeries() {
	c.tab.do("compose a series with a bad cron",
		chromedp.Navigate(c.n.baseURL+"/admin/broadcasts/new"),
		waitText("h1", "Compose a broadcast"),
		chromedp.SendKeys(byLabel("Title"), "Weekly maintenance"),
		chromedp.SendKeys(byLabel("Content"), "Sunday 02:00 Berlin time"),
		chromedp.Click(chromedp.CSS(`input[name=target][value=ROLE]`)),
		chromedp.SendKeys(byLabel("Roles"), "ops\r"),
		chromedp.Click(chromedp.CSS(`input[name=when][value=repeat]`)),
		chromedp.SendKeys(byLabel("Cron"), "0 2 * * SUNDAYS"),
		clearText(byLabel("Its time zone")),
		chromedp.SendKeys(byLabel("Its time zone"), "Europe/Berlin"),
		chromedp.Click(button("Start the series")),
		waitText(".field-error", "cron"))
	c.tab.do("mend it",
		clearText(byLabel("Cron")),
		chromedp.SendKeys(byLabel("Cron"), "0 2 * * SUN"),
		chromedp.Click(button("Start the series")),
		waitText("h1", "Weekly maintenance"),
		waitText("h1", "Active"),
		waitText("ol", "02:00 CET (Europe/Berlin)"))
	c.tab.screenshot("console-series")
	c.tab.requireAccessible("a series")
	c.tab.do("pause it",
		chromedp.Click(button("Pause…")),
		waitText("dialog", "Pause this series?"),
		chromedp.Click(button("Pause")),
		waitText("h1", "Paused"),
		chromedp.WaitVisible(button("Resume…")))
}

// seeTheNodesHealth: the node, its dependencies and its connections (Ann's
// stream among them).
func (c *consoleRun) seeTheNodesHealth() {
	c.tab.do("open health",
		chromedp.Navigate(c.n.baseURL+"/admin/health"),
		waitText("main", "Ready"),
		waitText("tbody", "node-console"),
		waitText("main", "published"), // the test process's metrics count every test's publications
		waitText("main", "online over"))
	c.tab.screenshot("console-health")
}

// importUsers: pasted CSV is read in the browser, a bad line is named by
// its number before anything is sent, and once mended the users go in with
// progress, and the directory shows them.
func (c *consoleRun) importUsers() {
	c.tab.do("paste users with a mistake",
		chromedp.Navigate(c.n.baseURL+"/admin/users"),
		waitText("tbody", "Ann Operator"),
		chromedp.SendKeys(byLabel("Or paste users"), "id,name,roles,time_zone\ndee,Dee Dev,dev;ops,Europe/Berlin\n,No Id,ops,\nfay,Fay,dev,\n"),
		waitText(".faults", "Line 3"))
	c.tab.requireAccessible("users, with a fault")
	c.tab.do("mend it and import",
		clearText(byLabel("Or paste users")),
		chromedp.SendKeys(byLabel("Or paste users"), "id,name,roles,time_zone\ndee,Dee Dev,dev;ops,Europe/Berlin\nfay,Fay,dev,\n"),
		chromedp.Click(button("Import 2 users")),
		waitText(".import-done", "Imported 2 of 2 users"),
		waitText("tbody", "Dee Dev"))
	c.tab.screenshot("console-users")
	var dee struct{ Roles []string }
	require.Equal(c.t, http.StatusOK, call(c.t, c.n, c.admin, http.MethodGet, "/api/v1/users/dee", nil, &dee))
	require.Equal(c.t, []string{"dev", "ops"}, dee.Roles)
}

// readTheAuditLog: who did what, the broadcast's cancel among it.
func (c *consoleRun) readTheAuditLog() {
	c.tab.do("open the audit log",
		chromedp.Navigate(c.n.baseURL+"/admin/audit"),
		waitText("tbody", "Ada Admin"),
		waitText("tbody", "broadcast.cancel"))
	c.tab.screenshot("console-audit")
}

// everyPageIsAccessible: the pages not seen yet pass axe-core too, and the
// list fits a phone.
func (c *consoleRun) everyPageIsAccessible() {
	for _, page := range []string{"series", "users", "audit", "dead-letters", "health"} { // series and health again: their lists
		c.tab.do("open "+page, chromedp.Navigate(c.n.baseURL+"/admin/"+page), chromedp.WaitVisible(chromedp.CSS("main h1")))
		c.tab.requireAccessible(page)
	}
	c.tab.do("a phone-sized screen", chromedp.EmulateViewport(390, 844))
	for _, page := range []string{"broadcasts/new", "users", "audit", "series", "health", ""} { // the list last, for its screenshot
		c.tab.do("open "+page+" on a phone", chromedp.Navigate(c.n.baseURL+"/admin/"+page), chromedp.WaitVisible(chromedp.CSS("main h1")), chromedp.Sleep(300*time.Millisecond))
		require.False(c.t, eval[bool](c.tab, `document.documentElement.scrollWidth > window.innerWidth + 1`), "nothing on /admin/%s overflows sideways at 390 px", page)
	}
	c.tab.do("the list on a phone", waitText("tbody", "Maintenance tonight"))
	c.tab.requireAccessible("broadcasts on a phone")
	c.tab.screenshot("console-phone")
	c.tab.do("back to 1280 px", chromedp.EmulateViewport(1280, 900))
}

// signOut ends the session: the console is closed until the next sign-in.
func (c *consoleRun) signOut() {
	c.tab.do("sign out", chromedp.Click(button("Sign out")), waitText("h1", "Sign in to Crier"))
	c.tab.do("the console is closed", chromedp.Navigate(c.n.baseURL+"/admin/broadcasts/new"), waitText("h1", "Sign in to Crier"))
}

// onlyMatch is the one broadcast titled title.
func onlyMatch(t *testing.T, n *node, token, title string) broadcast.Broadcast {
	t.Helper()
	var found []broadcast.Broadcast
	for _, b := range allBroadcasts(t, n, token) {
		if b.Title == title {
			found = append(found, b)
		}
	}
	require.Len(t, found, 1, "broadcasts titled %q", title)
	return found[0]
}

// allBroadcasts lists every broadcast token may see (the tests make few).
func allBroadcasts(t *testing.T, n *node, token string) []broadcast.Broadcast {
	t.Helper()
	var page struct{ Items []broadcast.Broadcast }
	require.Equal(t, http.StatusOK, call(t, n, token, http.MethodGet, "/api/v1/broadcasts?limit=100", nil, &page))
	return page.Items
}
