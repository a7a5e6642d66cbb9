package main

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// TestConsoleSignInWithOpenIDConnect signs in to the console through a
// real OpenID provider started here (zitadel/oidc's, with its login page
// and users): the authorization code flow with PKCE, the ID token verified
// against the provider's published keys, and the roles claim deciding who
// may use the console.
func TestConsoleSignInWithOpenIDConnect(t *testing.T) {
	first := browser(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	issuer := "http://" + l.Addr().String()
	clients := map[string]*storage.Client{}
	provider := &rolesStorage{
		Storage: storage.NewStorageWithClients(storage.NewUserStore(issuer), clients),
		roles:   map[string][]string{"id1": {"admin"}}, // test-user2 (id2) holds no role Crier knows
	}
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, provider, nil, false), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	s := newStack(t)
	for k, v := range map[string]string{
		"CRIER_JWKS_URL": issuer + "/keys", "CRIER_JWT_ISSUER": issuer, "CRIER_JWT_AUDIENCE": "crier-console",
		"CRIER_OIDC_CLIENT_ID": "crier-console", "CRIER_OIDC_CLIENT_SECRET": "console-secret",
	} {
		s.env[k] = v
	}
	n := s.start(t, "api", "node-oidc")
	// Registered once the console's address is known; the provider has
	// served nothing yet.
	clients["crier-console"] = storage.WebClient("crier-console", "console-secret", n.baseURL+"/admin/oidc/callback")

	signIn := func(b *tab, user string) {
		b.do("sign in at the provider as "+user,
			chromedp.Navigate(n.baseURL+"/admin/broadcasts/new"),
			waitText("h1", "Sign in to Crier"),
			chromedp.Click(button("Sign in with single sign-on")),
			chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), user),
			chromedp.SendKeys(chromedp.ID("password"), "verysecure"),
			chromedp.Click(button("Login")))
	}
	signIn(first, "test-user@127.0.0.1")
	first.do("back in the console, where the admin was going",
		waitText("h1", "Compose a broadcast"),
		waitText("#user", "Test User"),
		waitText("#user", "admin"))
	loc, err := chromedp.Run(first.ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, n.baseURL+"/admin/broadcasts/new", loc)
	status, err := chromedp.Run(first.ctx, chromedp.Evaluate[int](`fetch("/api/v1/broadcasts").then((r) => r.status)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "the session's token is accepted by the API")

	// A user the provider knows but who holds neither role is turned away
	// with the reason.
	other := first.person()
	signIn(other, "test-user2")
	other.do("refused", waitText(".alert", "the console is for"))
}

// rolesStorage is the example provider's storage with a roles claim in its
// ID tokens, as an organisation's provider is configured to send.
type rolesStorage struct {
	*storage.Storage
	roles map[string][]string
}

func (s *rolesStorage) SetUserinfoFromScopes(ctx context.Context, info *oidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := s.Storage.SetUserinfoFromScopes(ctx, info, userID, clientID, scopes); err != nil {
		return err
	}
	info.AppendClaims("roles", append([]string{}, s.roles[userID]...))
	return nil
}

// GetClientByClientID puts the user info (name, roles) in the ID token.
func (s *rolesStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return userinfoInIDToken{c}, nil
}

type userinfoInIDToken struct{ op.Client }

func (userinfoInIDToken) IDTokenUserinfoClaimsAssertion() bool { return true }

// TestConsoleSignInLink opens the console with a link `crier signin-link`
// printed (what `make dev` shows): it signs in once; opened again, in
// another browser, it is refused.
func TestConsoleSignInLink(t *testing.T) {
	first := browser(t)
	s := newStack(t)
	n := s.start(t, "api", "node-link")
	var out, errs strings.Builder
	require.NoError(t, run(context.Background(), []string{"signin-link", "--sub", "lee", "--name", "Lee Lead", "--role", "broadcaster", "--url", n.baseURL}, &out, &errs), errs.String())
	link := strings.TrimSpace(out.String())
	require.Regexp(t, `^`+regexp.QuoteMeta(n.baseURL)+`/admin/signin#code=[A-Za-z0-9_-]{43}$`, link)

	first.do("open the link", chromedp.Navigate(link), waitText("h1", "Broadcasts"), waitText("#user", "Lee Lead"), waitText("#user", "broadcaster"))
	loc, err := chromedp.Run(first.ctx, chromedp.Location())
	require.NoError(t, err)
	require.NotContains(t, loc, "code=", "the spent code leaves the address bar")

	other := first.person()
	other.do("open it again", chromedp.Navigate(link), waitText(".alert", "used already"))
}
